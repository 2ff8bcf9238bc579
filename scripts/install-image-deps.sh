#!/usr/bin/env bash
# Install driftwarden into a virtualenv exactly as the container image gets it.
#
#   scripts/install-image-deps.sh VENV [SOURCE_DIR]
#
# The Dockerfile runs this script to build /opt/venv, and the test suite runs it
# into a throwaway venv (tests/e2e_static/test_image_install.py), so what is
# tested and what is shipped come from the same steps:
#
#   1. copy the files a wheel is built from (pyproject.toml, README.md, operator/)
#      and the lock (requirements/image.lock) out of SOURCE_DIR (default: this
#      repository), leaving build debris behind;
#   2. create VENV with $PYTHON (default python3);
#   3. install the lock: every dependency and the build backend, each pinned to
#      one version whose files must match the lock's sha256 hashes (pip
#      --require-hashes), wheels only, nothing resolved here (--no-deps);
#   4. build the driftwarden wheel from that copy with the locked backend (no
#      build isolation, so nothing unpinned is fetched) and install it --no-deps;
#      `pip check` then fails the build if the lock misses a dependency;
#   5. remove pip, setuptools and wheel from VENV (the image runs, it never installs),
#      and the test suites and C headers numpy, scipy and pyarrow ship (~60 MB);
#   6. check the result: `driftwarden --version`, the operator's imports, the compiled
#      kernels (driftwarden/native: the build needs a C compiler), no pip.
#
# The lock is made by scripts/lock-image-deps.sh; see docs/install.md.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 VENV [SOURCE_DIR]" >&2
  exit 2
fi
venv=$1
source_dir=${2:-$(cd "$(dirname "$0")/.." && pwd)}
python=${PYTHON:-python3}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "driftwarden image deps: building from $source_dir into $venv"
mkdir -p "$work/src"
cp "$source_dir/pyproject.toml" "$source_dir/README.md" "$work/src/"
cp "$source_dir/requirements/image.lock" "$work/image.lock"
cp -R "$source_dir/operator" "$work/src/operator"
find "$work/src" \( -name '__pycache__' -o -name '*.egg-info' \) -prune -exec rm -rf {} +

"$python" -m venv "$venv"
venv_python="$venv/bin/python"
pip=("$venv_python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --require-hashes --no-deps --only-binary :all: \
  --requirement "$work/image.lock"
"${pip[@]}" wheel --quiet --no-deps --no-build-isolation \
  --wheel-dir "$work/dist" "$work/src"
"${pip[@]}" install --quiet --no-deps "$work"/dist/driftwarden-*.whl
"${pip[@]}" check
"$venv_python" -m pip uninstall --quiet --yes pip setuptools wheel 2>/dev/null || true
site_packages=$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for package in numpy scipy pyarrow; do
  find "$site_packages/$package" -type d -name tests -prune -exec rm -rf {} +
done
rm -rf "$site_packages/pyarrow/include"

"$venv/bin/driftwarden" --version
# `driftwarden run` imports the controller lazily: import it here so a missing
# operator dependency fails the build, not the first pod start.
"$venv_python" -c 'import driftwarden.controller.runner, driftwarden.cli.main'
# The engine's compiled kernels are optional for a pip install but not for the image:
# without them every analysis Job runs the slower numpy code (driftwarden/native).
DRIFTWARDEN_NATIVE=1 "$venv_python" -c \
  'from driftwarden import native; [native.load(name) for name in native.MODULES]'
if "$venv_python" -c 'import pip' 2>/dev/null; then
  echo "pip is still importable from $venv" >&2
  exit 1
fi
echo "driftwarden image deps: done"
