#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then lint and run it.
# Used as is by .ci/run; safe to re-run (the venv and system packages are reused).
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests drive for real: headless Chromium renders the HTML report.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# A C compiler builds the engine's kernels (driftwarden/native); the suite tests them.
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need_apt[*]} (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing ${need_apt[*]}: install with 'sudo apt-get install ${need_apt[*]}'" >&2
    exit 1
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
# helm 3 and 4, promtool: chart and alert checks (into ./.tools, see the script)
./scripts/ci-tools.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy operator/driftwarden
.venv/bin/python -m pytest -q "$@"
