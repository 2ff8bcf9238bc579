"""Debounced alerting: how many runs drift must persist before a monitor is Drifted.

``spec.alerting`` asks for ``driftAfterRuns`` (N) consecutive drifted runs before
the monitor's phase becomes ``Drifted`` (the Drifted condition True, retraining
allowed), ``recoverAfterRuns`` (M) consecutive clean runs before it is ``Healthy``
again (hysteresis), and ``featureDriftAfterRuns`` (K): a feature counts towards the
dataset verdict only once it has drifted in K consecutive runs, so one flapping
feature does not page. All default to 1, which is exactly the verdict of each run.

Only *successful* runs count. A failed run neither counts nor resets a streak: a
transient storage error must not turn a Drifted monitor Healthy, nor restart the
count of a drift that is building up.

The state lives in the monitor's status (``status.alerting``, ``status.driftingSince``),
never in the operator's memory: a restarted operator continues the count where the
last one left it. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from driftwarden.analysis.settings import as_mapping, check_keys
from driftwarden.errors import ConfigError
from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.times import format_time

DRIFTED = "Drifted"
HEALTHY = "Healthy"
MAX_RUNS = 100  # the bound of each spec.alerting setting (as in the CRD)
# Drifting features whose streak is kept (status.alerting.features), the longest first: enough
# to tell a few flapping features from persistent ones, small in the status with 96-byte names.
MAX_FEATURE_STREAKS = 10
# As in driftwarden.stats.verdict.dataset_verdict (the monitor layer does not import stats).
SHARE_TOLERANCE = 1e-12

_KEYS = {"driftAfterRuns", "recoverAfterRuns", "featureDriftAfterRuns"}


@dataclass(frozen=True)
class AlertingSettings:
    """``spec.alerting``: N, M and K of the module docstring."""

    drift_after_runs: int = 1
    recover_after_runs: int = 1
    feature_drift_after_runs: int = 1

    @property
    def immediate(self) -> bool:
        """True when every run's own verdict decides at once (today's behaviour)."""
        return (
            self.drift_after_runs == self.recover_after_runs == self.feature_drift_after_runs == 1
        )


def parse_alerting(spec: Mapping[str, Any]) -> AlertingSettings:
    """``spec.alerting``; every setting an integer in [1, 100], default 1."""
    where = "spec.alerting"
    section = as_mapping(spec.get("alerting"), where)
    check_keys(section, _KEYS, where)
    values = {}
    for key, attr in (
        ("driftAfterRuns", "drift_after_runs"),
        ("recoverAfterRuns", "recover_after_runs"),
        ("featureDriftAfterRuns", "feature_drift_after_runs"),
    ):
        value = section.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RUNS:
            raise ConfigError(
                f"{where}.{key}: expected an integer in [1, {MAX_RUNS}], got {value!r}",
                hint="the number of consecutive successful runs; 1 acts on every run's own verdict",
            )
        values[attr] = value
    return AlertingSettings(**values)


@dataclass(frozen=True)
class AlertState:
    """``status.alerting``: the debounced verdict and the streaks that lead to the next one.

    ``drifted_runs``: consecutive successful runs counted as drifted (0 after a clean
    one); ``clean_runs``: consecutive clean ones; ``streak_start``: the slot of the
    first run of the current drifted streak; ``features``: per drifting feature, its
    consecutive drifted runs (kept only when ``featureDriftAfterRuns`` > 1).
    """

    state: str = HEALTHY
    drifted_runs: int = 0
    clean_runs: int = 0
    streak_start: str | None = None
    features: tuple[tuple[str, int], ...] = ()

    @property
    def drifted(self) -> bool:
        return self.state == DRIFTED

    def to_status(self) -> dict[str, Any]:
        """``status.alerting``; None values are removed (the status is a JSON merge patch)."""
        return {
            "state": self.state,
            "driftedRuns": self.drifted_runs,
            "cleanRuns": self.clean_runs,
            "streakStart": self.streak_start or None,
            "features": [{"name": name, "runs": runs} for name, runs in self.features] or None,
        }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def state_from_status(status: Mapping[str, Any] | None) -> AlertState | None:
    """The state a status records; None before any successful run.

    A status written by an operator without debouncing (no ``alerting``) is read from its
    Drifted condition, so an upgrade keeps a Drifted monitor Drifted.
    """
    status = status or {}
    recorded = status.get("alerting")
    if isinstance(recorded, Mapping) and recorded.get("state") in (DRIFTED, HEALTHY):
        features = tuple(
            (str(f["name"]), _count(f.get("runs")))
            for f in recorded.get("features") or []
            if isinstance(f, Mapping) and isinstance(f.get("name"), str) and _count(f.get("runs"))
        )
        start = recorded.get("streakStart")
        return AlertState(
            state=recorded["state"],
            drifted_runs=_count(recorded.get("driftedRuns")),
            clean_runs=_count(recorded.get("cleanRuns")),
            streak_start=start if isinstance(start, str) else None,
            features=features,
        )
    for cond in status.get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Drifted":
            if cond.get("status") == "True":
                return AlertState(state=DRIFTED, drifted_runs=1)
            if cond.get("status") == "False":
                return AlertState(state=HEALTHY, clean_runs=1)
    return None


@dataclass(frozen=True)
class Step:
    """What one successful run did to the debounced verdict.

    ``counted``: the run counted as drifted (its own verdict, or with
    ``featureDriftAfterRuns`` > 1, the verdict over its persistent features only);
    ``persistent``: names of the features that counted; ``began``/``recovered``: the
    debounced state flipped to Drifted / Healthy with this run.
    """

    before: AlertState | None
    after: AlertState
    counted: bool
    persistent: tuple[str, ...] = ()
    began: bool = False
    recovered: bool = False
    settings: AlertingSettings = field(default_factory=AlertingSettings)

    @property
    def confirmed(self) -> bool:
        """The run found drift and the monitor is Drifted after it: what may start retraining."""
        return self.counted and self.after.drifted


def _feature_streaks(
    before: AlertState | None, outcome: RunOutcome, settings: AlertingSettings
) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...], int]:
    """``(streaks, persistent names, persistent count)`` after ``outcome``.

    At most :data:`MAX_FEATURE_STREAKS` drifting features are tracked, the longest
    streaks first. A drifted feature beyond them, or one the summary does not list (it
    lists the most drifted first, as many as fit in 4 KiB), counts as persistent: that
    happens only when more features drift at once than are tracked, which is broad
    drift, not a flapping feature.
    """
    old = dict(before.features) if before is not None else {}
    listed = [f.name for f in outcome.features if f.drifted]
    streaks = {name: old.get(name, 0) + 1 for name in dict.fromkeys(listed)}
    kept = sorted(streaks.items(), key=lambda item: (-item[1], item[0]))[:MAX_FEATURE_STREAKS]
    persistent = tuple(name for name, runs in kept if runs >= settings.feature_drift_after_runs)
    untracked = max(0, (outcome.drifted_features or 0) - len(kept))
    return tuple(kept), persistent, len(persistent) + untracked


def _share_drifted(count: int, total: int | None, drift_share: float) -> bool:
    return bool(total) and count > 0 and count / (total or 1) >= drift_share - SHARE_TOLERANCE


def advance(
    settings: AlertingSettings,
    drift_share: float,
    before: AlertState | None,
    outcome: RunOutcome,
) -> Step:
    """The debounced verdict after ``outcome``; a failed run changes nothing.

    ``drift_share`` is ``spec.detection.driftShare``, used to judge a run over its
    persistent features when ``featureDriftAfterRuns`` > 1.
    """
    if not outcome.succeeded:
        unchanged = before or AlertState()
        return Step(before, unchanged, False, settings=settings)
    features: tuple[tuple[str, int], ...] = ()
    persistent: tuple[str, ...] = tuple(outcome.drifted_names)
    counted = outcome.drifted
    if settings.feature_drift_after_runs > 1:
        features, persistent, count = _feature_streaks(before, outcome, settings)
        counted = outcome.drifted and _share_drifted(count, outcome.total_features, drift_share)
        # Feature persistence filters flapping features; a joint drift is not one of them.
        joint = outcome.multivariate
        counted = counted or (outcome.drifted and joint is not None and joint.drifted)
    previous = before or AlertState()
    slot = format_time(outcome.slot) if outcome.slot else None
    if counted:
        drifted_runs, clean_runs = previous.drifted_runs + 1, 0
        start = previous.streak_start if previous.drifted_runs else slot
        state = DRIFTED if drifted_runs >= settings.drift_after_runs else previous.state
    else:
        drifted_runs, clean_runs, start = 0, previous.clean_runs + 1, None
        state = HEALTHY if clean_runs >= settings.recover_after_runs else previous.state
    after = replace(
        previous,
        state=state,
        drifted_runs=drifted_runs,
        clean_runs=clean_runs,
        streak_start=start,
        features=features,
    )
    return Step(
        before,
        after,
        counted,
        persistent,
        began=state == DRIFTED and not previous.drifted,
        recovered=state == HEALTHY and previous.drifted,
        settings=settings,
    )


def runs_text(what: str, runs: int, required: int, setting: str) -> str:
    """``drifted in 2 of 3 required runs (spec.alerting.driftAfterRuns)``. A count already at a
    setting lowered since the last run (the state changes with runs only) says so."""
    if runs < required:
        return f"{what} in {runs} of {required} required runs (spec.alerting.{setting})"
    return f"{what} in {runs} runs (spec.alerting.{setting} is now {required}: applies from the next run)"


def pending_message(step: Step) -> str | None:
    """Why the run's drift did not (yet) make the monitor Drifted, or why it stays Drifted
    after a clean run; None when the debounced state agrees with the run's own verdict."""
    settings, after = step.settings, step.after
    if after.drifted and not step.counted:
        clean = runs_text(
            "clean", after.clean_runs, settings.recover_after_runs, "recoverAfterRuns"
        )
        return f"{clean}; the monitor stays Drifted"
    if not after.drifted and step.counted:
        return runs_text("drifted", after.drifted_runs, settings.drift_after_runs, "driftAfterRuns")
    return None


def unpersistent_message(settings: AlertingSettings) -> str:
    """Why a drifted run did not count: too few of its features drifted long enough."""
    return (
        f"too few features drifted in {settings.feature_drift_after_runs} consecutive runs "
        "(spec.alerting.featureDriftAfterRuns) to reach spec.detection.driftShare"
    )


def drifting_since(
    step: Step, outcome: RunOutcome, previous: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """``status.driftingSince`` after ``step``: set when the monitor turns Drifted, kept while
    it stays Drifted, None (removed) when it is Healthy."""
    if not step.after.drifted:
        return None
    if not step.began and isinstance(previous, Mapping):
        return dict(previous)
    # Every key, None when unknown: a merge patch must not leave an older run's value behind.
    return {
        "job": outcome.job,
        "slot": format_time(outcome.slot) if outcome.slot else None,
        "time": format_time(outcome.completion_time) if outcome.completion_time else None,
        "firstDriftedSlot": step.after.streak_start,
    }


# ---------------------------------------------------------------- spec.model's verdicts


def _streak_count(entry: Mapping[str, Any], key: str) -> int:
    value = entry.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def verdict_streak(
    previous: Mapping[str, Any] | None,
    flagged: bool | None,
    job: str,
    alerting: AlertingSettings,
    *,
    flagged_state: str,
    runs_key: str,
    raw_key: str,
) -> dict[str, Any]:
    """The debounced state of one of spec.model's verdicts (prediction drift, performance)
    after run ``job``: ``{run, state, <runs_key>, cleanRuns}``.

    ``previous`` is its status entry so far, ``flagged`` the run's verdict (None: the run
    decided nothing, and counts neither way). The streaks advance once per run: a run
    already recorded (``previous.run == job``, a re-read) keeps them. A flagged run starts
    or extends the flagged streak, a clean one the clean streak; the state turns
    ``flagged_state`` at ``driftAfterRuns`` flagged runs in a row and Healthy again at
    ``recoverAfterRuns`` clean ones. An entry from before debouncing (no ``state``) starts
    from its own verdict, ``previous[raw_key]``.
    """
    before = previous if isinstance(previous, Mapping) else {}
    flagged_runs, clean_runs = _streak_count(before, runs_key), _streak_count(before, "cleanRuns")
    state = before.get("state") if before.get("state") in (flagged_state, HEALTHY) else None
    if state is None:
        state = flagged_state if before.get(raw_key) is True else HEALTHY
    if before.get("run") != job and flagged is not None:
        if flagged:
            flagged_runs, clean_runs = flagged_runs + 1, 0
            if flagged_runs >= alerting.drift_after_runs:
                state = flagged_state
        else:
            flagged_runs, clean_runs = 0, clean_runs + 1
            if state == HEALTHY or clean_runs >= alerting.recover_after_runs:
                state = HEALTHY
    return {"run": job, "state": state, runs_key: flagged_runs, "cleanRuns": clean_runs}


# ---------------------------------------------------------------- recent runs

MAX_RECENT_RUNS = 10


def recent_run(outcome: RunOutcome) -> dict[str, Any]:
    """One entry of ``status.recentRuns``: a few small fields, the run's own (raw) verdict."""
    entry: dict[str, Any] = {"job": outcome.job}
    if outcome.slot:
        entry["slot"] = format_time(outcome.slot)
    entry["outcome"] = outcome.outcome
    if outcome.succeeded:
        entry["drifted"] = outcome.drifted
        if outcome.drift_share is not None:
            entry["driftShare"] = round(outcome.drift_share, 4)
        if outcome.drifted_features is not None:
            entry["driftedFeatures"] = outcome.drifted_features
    else:
        entry["reason"] = outcome.reason
    return entry


def recent_runs(previous: Any, outcome: RunOutcome) -> list[dict[str, Any]]:
    """``status.recentRuns`` with ``outcome`` first, at most :data:`MAX_RECENT_RUNS` (newest first).

    An entry for the same Job is replaced, so recording a run twice does not repeat it.
    """
    kept: Sequence[Any] = previous if isinstance(previous, list) else []
    older = [dict(r) for r in kept if isinstance(r, Mapping) and r.get("job") != outcome.job]
    return [recent_run(outcome), *older][:MAX_RECENT_RUNS]
