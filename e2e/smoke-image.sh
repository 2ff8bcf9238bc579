#!/usr/bin/env bash
# Smoke test of a built image, run the way Kubernetes runs it: read-only root
# filesystem, only /tmp writable, no capabilities, no privilege escalation.
#
#   e2e/smoke-image.sh IMAGE
#
# Used by e2e/run.sh after the build and by the image job of .github/workflows/ci.yaml.
set -euo pipefail

image=${1:?usage: $0 IMAGE}

run() {
  docker run --rm --read-only --tmpfs /tmp:rw,size=512m \
    --cap-drop ALL --security-opt no-new-privileges "$@"
}

echo "smoke: $image"
[ "$(docker image inspect --format '{{.Config.User}}' "$image")" = "65532:65532" ] ||
  { echo "smoke: the image does not run as 65532:65532" >&2; exit 1; }
[ "$(run --entrypoint python "$image" -c 'import os; print(os.getuid(), os.getgid())')" = "65532 65532" ] ||
  { echo "smoke: the container does not run as 65532:65532" >&2; exit 1; }
if run --entrypoint python "$image" -c 'import pip' 2>/dev/null; then
  echo "smoke: pip is importable in the image" >&2
  exit 1
fi
docker image inspect --format '{{ index .Config.Labels "org.opencontainers.image.version" }}' "$image"
run "$image" --version
# The default command is the operator; its flags prove the ENTRYPOINT/CMD wiring.
run "$image" run --help >/dev/null
# The analysis end to end (Arrow I/O, profiles, statistics, reports) on a read-only root.
run "$image" demo --dir /tmp/demo --days 5 --reference-rows 5000 --daily-rows 2000
echo "smoke: ok"
