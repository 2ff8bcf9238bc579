-- Argo CD health check for driftwarden.io/DriftMonitor.
--
-- Install it in argocd-cm under the key
--   resource.customizations.health.driftwarden.io_DriftMonitor
-- (deploy/argocd/argocd-cm.yaml holds this exact script; docs/gitops.md explains).
--
--   Progressing  the operator has not yet reported on the current spec
--                (no status, or status.observedGeneration < metadata.generation),
--                the phase is Pending, or the first run is in progress
--   Healthy      the last run succeeded and found no dataset drift
--   Healthy      the last run found dataset drift: the monitor works, the *data*
--                drifted (see DRIFTED_HEALTH below and docs/gitops.md)
--   Degraded     phase Failed (invalid spec, failed run), or the running analysis
--                Job cannot start; the message is the Ready condition's
--   Suspended    spec.suspend is true
--   Running      a later run in progress keeps the last verdict, so an application
--                does not turn Progressing on every schedule slot
--
-- Written for Argo CD's sandbox: Lua 5.1 (gopher-lua), base and table libraries
-- only, no string library.

-- "Healthy" or "Degraded": the health reported for phase Drifted.
local DRIFTED_HEALTH = "Healthy"

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, item in ipairs(status.conditions) do
    if item.type == kind then
      return item
    end
  end
  return nil
end

local function message_of(item, fallback)
  if item ~= nil and item.message ~= nil and item.message ~= "" then
    return item.message
  end
  return fallback
end

local function verdict(status, hs, suffix)
  local ready = condition(status, "Ready")
  local last = status.lastRun
  if last == nil or last.outcome ~= "Succeeded" then
    hs.status = "Degraded"
    hs.message = message_of(ready, "the last analysis run failed") .. suffix
  elseif last.drifted then
    hs.status = DRIFTED_HEALTH
    hs.message = "Drift detected: " .. message_of(condition(status, "Drifted"), "dataset drifted") .. suffix
  else
    hs.status = "Healthy"
    hs.message = message_of(ready, "no dataset drift") .. suffix
  end
  return hs
end

local hs = {}
local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the driftwarden operator to report a status"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase
local ready = condition(status, "Ready")
if phase == "Healthy" or phase == "Drifted" then
  return verdict(status, hs, "")
elseif phase == "Failed" then
  -- An invalid spec fails the monitor even when an earlier run succeeded.
  hs.status = "Degraded"
  hs.message = message_of(ready, "Failed")
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = "Suspended (spec.suspend): no new analysis runs"
elseif phase == "Running" then
  local current = status.currentRun or {}
  local running = "analysis run " .. tostring(current.job or "") .. " in progress"
  if ready ~= nil and ready.status == "False" and ready.reason == "JobNotStarting" then
    hs.status = "Degraded"
    hs.message = message_of(ready, running)
  elseif status.lastRun == nil then
    hs.status = "Progressing"
    hs.message = "First " .. running
  else
    verdict(status, hs, "; " .. running)
  end
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = message_of(ready, "No analysis run has finished yet")
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
