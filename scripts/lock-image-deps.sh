#!/usr/bin/env bash
# Regenerate requirements/image.lock: every Python package the container image
# installs, pinned to one version with the sha256 of each of its files.
#
#   scripts/lock-image-deps.sh            # write requirements/image.lock
#   scripts/lock-image-deps.sh --upgrade  # move every pin to the newest release allowed
#
# scripts/install-image-deps.sh installs exactly this file (`pip install
# --require-hashes --no-deps --only-binary :all:`), so a new release on PyPI, or
# a file replaced under an existing version, never changes the image unnoticed.
# Run this after changing pyproject.toml's dependencies, [build-system] requires
# or the Dockerfile's PYTHON_IMAGE, and commit the result with that change
# (tests/e2e_static/test_image_lock.py fails until you do).
#
# What is locked: pyproject.toml's [project] dependencies (the runtime) plus its
# [build-system] requires (setuptools, to build the driftwarden wheel without
# fetching an unpinned backend; the install script removes it again). Resolved by
# uv (PyPI `uv`, installed into a throwaway venv) for the image's CPython version,
# read from the Dockerfile, on glibc Linux (Debian trixie: manylinux_2_40) and
# wheels only, since the builder stage has no compiler. Resolved for x86_64 and
# for aarch64: the script fails if the two disagree, so one lock serves a
# multi-arch build. The hashes cover every file of each pinned release, whatever
# its platform.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
LOCK=requirements/image.lock
python=${PYTHON:-python3}

upgrade=()
case "${1:-}" in
  "") ;;
  --upgrade) upgrade=(--upgrade) ;;
  *) echo "usage: $0 [--upgrade]" >&2; exit 2 ;;
esac

# The image's Python version, from `ARG PYTHON_IMAGE=python:X.Y.Z-...`.
python_version=$(sed -nE 's/^ARG PYTHON_IMAGE=python:([0-9]+\.[0-9]+\.[0-9]+)-.*/\1/p' Dockerfile)
if [ -z "$python_version" ]; then
  echo "lock-image-deps: no 'ARG PYTHON_IMAGE=python:X.Y.Z-...' in Dockerfile" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
uv="$work/venv/bin/uv"

"$python" - >"$work/build-system.in" <<'PY'
"""pyproject.toml's [build-system] requires, one a line."""

import tomllib

with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
PY

# compile PLATFORM OUTPUT [uv options...]
compile() {
  local platform=$1 output=$2
  shift 2
  "$uv" pip compile --quiet pyproject.toml - <"$work/build-system.in" \
    --python-version "$python_version" --python-platform "$platform" \
    --only-binary :all: --generate-hashes \
    --custom-compile-command "scripts/lock-image-deps.sh" \
    --output-file "$output" "$@"
}

mkdir -p "$(dirname "$LOCK")"
# Start from the committed lock so unchanged pins stay where they are (uv keeps
# the versions an existing output file names unless --upgrade).
if [ -f "$LOCK" ]; then cp "$LOCK" "$work/x86_64.txt"; fi
compile x86_64-manylinux_2_40 "$work/x86_64.txt" "${upgrade[@]}"
cp "$work/x86_64.txt" "$work/aarch64.txt"
compile aarch64-manylinux_2_40 "$work/aarch64.txt"

pins() { grep -E '^[A-Za-z0-9]' "$1"; }
if ! diff <(pins "$work/x86_64.txt") <(pins "$work/aarch64.txt") >"$work/diff"; then
  echo "lock-image-deps: x86_64 and aarch64 resolve to different versions:" >&2
  cat "$work/diff" >&2
  exit 1
fi

{
  echo "# The Python packages of the container image, for CPython $python_version on"
  echo "# linux x86_64 and aarch64 (glibc, wheels only). Installed by"
  echo "# scripts/install-image-deps.sh with pip --require-hashes; regenerate with"
  echo "# scripts/lock-image-deps.sh, never by hand."
  cat "$work/x86_64.txt"
} >"$LOCK"
echo "lock-image-deps: wrote $LOCK ($(pins "$LOCK" | wc -l) packages, CPython $python_version)"
