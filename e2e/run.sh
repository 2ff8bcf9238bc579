#!/usr/bin/env bash
# End-to-end test on a throwaway kind cluster, in one command (needs Docker):
#
#   e2e/run.sh
#
# 1. creates a kind cluster, builds the image, smoke-tests it and loads it;
# 2. starts an S3 server (SeaweedFS) in the cluster;
# 3. installs the CRDs and the Helm chart with that image;
# 4. uploads the demo data with a Job running the same image (e2e/seed_data.py);
# 5. applies a healthy and a drifted monitor (e2e/manifests/monitors.yaml), waits
#    for their verdicts and checks status, Jobs, the retraining Job and Events;
# 6. port-forwards the metrics Service and checks what it serves;
# and deletes the cluster on exit. The assertions live in e2e/checks.py, which the
# test suite also runs against its API server.
#
# Needs docker, kind, kubectl, helm and python3. Settings (environment):
#   CLUSTER=driftwarden-e2e  kind cluster name
#   IMAGE=driftwarden:e2e    image to build, load and deploy
#   SKIP_BUILD=1             use IMAGE as it is (already built)
#   KEEP_CLUSTER=1           keep the cluster afterwards (and reuse it next time)
#   TIMEOUT=600              seconds to wait for the monitors' first verdicts
#   ARTIFACTS=e2e/out        where logs and resource dumps go when a step fails
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-driftwarden-e2e}
IMAGE=${IMAGE:-driftwarden:e2e}
TIMEOUT=${TIMEOUT:-600}
ARTIFACTS=${ARTIFACTS:-e2e/out}
CONTEXT="kind-$CLUSTER"
RELEASE=driftwarden
OPERATOR_NS=driftwarden
NS=ml
HEALTHY=e2e-healthy
DRIFTED=e2e-drifted
METRICS_LOCAL_PORT=${METRICS_LOCAL_PORT:-19090}

for tool in docker kind kubectl helm python3 curl; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is needed and not on PATH" >&2; exit 2; }
done

kc() { kubectl --context "$CONTEXT" "$@"; }
checks() { python3 e2e/checks.py --context "$CONTEXT" "$@"; }
step() { printf '\n==> %s\n' "$*"; }
# `kubectl apply` of a generated object, so a kept cluster can be reused.
apply_generated() { "$@" --dry-run=client --output yaml | kc apply --filename -; }

mkdir -p "$ARTIFACTS"
printf '*\n' >"$ARTIFACTS/.gitignore"  # never committed by accident
port_forward=""

diagnostics() {
  echo "e2e: failed; diagnostics in $ARTIFACTS/" >&2
  kc get all,driftmonitors,events --all-namespaces --output wide >"$ARTIFACTS/resources.txt" 2>&1 || true
  kc get driftmonitors --namespace "$NS" --output yaml >"$ARTIFACTS/monitors.yaml" 2>&1 || true
  kc describe jobs,pods --namespace "$NS" >"$ARTIFACTS/ml-describe.txt" 2>&1 || true
  kc logs --namespace "$OPERATOR_NS" --selector app.kubernetes.io/component=operator \
    --tail=-1 >"$ARTIFACTS/operator.log" 2>&1 || true
  kc logs --namespace "$NS" --selector app.kubernetes.io/managed-by=driftwarden --prefix \
    --tail=-1 >"$ARTIFACTS/jobs.log" 2>&1 || true
  kc logs --namespace "$NS" job/e2e-seed >"$ARTIFACTS/seed.log" 2>&1 || true
  kc logs --namespace s3 deploy/seaweedfs --tail=200 >"$ARTIFACTS/seaweedfs.log" 2>&1 || true
}

cleanup() {
  local status=$?
  if [ -n "$port_forward" ]; then kill "$port_forward" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ]; then diagnostics; fi
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT

step "kind cluster $CLUSTER"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "reusing the existing cluster"
else
  kind create cluster --name "$CLUSTER" --wait 120s
fi

step "image $IMAGE"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  docker build --tag "$IMAGE" \
    --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
fi
e2e/smoke-image.sh "$IMAGE"
kind load docker-image "$IMAGE" --name "$CLUSTER"

step "S3 server (SeaweedFS)"
access_key="e2e$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
secret_key="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
s3_config="$(mktemp)"
printf '{"identities": [{"name": "e2e", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}\n' \
  "$access_key" "$secret_key" >"$s3_config"
kc apply --filename e2e/manifests/seaweedfs.yaml
apply_generated kc --namespace s3 create secret generic seaweedfs-s3-config --from-file=s3.json="$s3_config"
rm -f "$s3_config"
kc --namespace s3 rollout restart deploy/seaweedfs >/dev/null  # pick up this run's keys
kc --namespace s3 rollout status deploy/seaweedfs --timeout=300s

step "CRDs and the Helm chart"
kc apply --server-side --force-conflicts --filename charts/driftwarden/crds/
helm --kube-context "$CONTEXT" upgrade --install "$RELEASE" charts/driftwarden \
  --namespace "$OPERATOR_NS" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" \
  --set image.pullPolicy=IfNotPresent \
  --wait --timeout 5m

step "demo data into s3://driftwarden-e2e/demo/"
apply_generated kc create namespace "$NS"
apply_generated kc --namespace "$NS" create secret generic s3-credentials \
  --from-literal=AWS_ACCESS_KEY_ID="$access_key" --from-literal=AWS_SECRET_ACCESS_KEY="$secret_key"
apply_generated kc --namespace "$NS" create configmap e2e-seed --from-file=e2e/seed_data.py
kc --namespace "$NS" delete job e2e-seed --ignore-not-found
sed "s|driftwarden:e2e|$IMAGE|g" e2e/manifests/seed-job.yaml | kc apply --filename -
kc --namespace "$NS" wait --for=condition=complete job/e2e-seed --timeout=600s
kc --namespace "$NS" logs job/e2e-seed | tail -n 3

step "monitors $HEALTHY and $DRIFTED"
sed "s|driftwarden:e2e|$IMAGE|g" e2e/manifests/monitors.yaml | kc apply --filename -
checks monitors --namespace "$NS" --healthy "$HEALTHY" --drifted "$DRIFTED" \
  --image "$IMAGE" --timeout "$TIMEOUT"
kc --namespace "$NS" get driftmonitors --output wide

step "metrics"
metrics_service=$(checks metrics-service --namespace "$OPERATOR_NS" --release "$RELEASE")
read -r service port <<<"$metrics_service"
kc --namespace "$OPERATOR_NS" port-forward "service/$service" "$METRICS_LOCAL_PORT:$port" \
  >"$ARTIFACTS/port-forward.log" 2>&1 &
port_forward=$!
metrics_url="http://127.0.0.1:$METRICS_LOCAL_PORT/metrics"
checks metrics --url "$metrics_url" --namespace "$NS" --healthy "$HEALTHY" --drifted "$DRIFTED" --timeout 60
curl --fail --silent --show-error "$metrics_url" | grep -E '^driftwarden_(dataset_drifted|retraining_jobs_started_total)\{'

step "e2e: all checks passed"
