# driftwarden: one image for the operator (`driftwarden run`, the default command)
# and for the analysis Jobs it starts (`driftwarden analyze`).
#
#   docker build -t driftwarden:dev .
#   docker run --rm driftwarden:dev --version
#
# The builder stage installs the project into /opt/venv with
# scripts/install-image-deps.sh, the same script the test suite runs into a
# throwaway venv. Every package it installs comes from requirements/image.lock,
# pinned with the sha256 of its files (scripts/lock-image-deps.sh makes it: run
# it after changing PYTHON_IMAGE). The builder also gets a C compiler for the
# engine's kernels (driftwarden/native). The final stage is the same Python base plus
# that venv only: no compiler, no pip, no build cache. It runs as UID/GID 65532,
# writes nothing outside /tmp and works with a read-only root filesystem.
#
# The base image is pinned by version; pin it by digest too in your registry's
# build (docker buildx imagetools inspect python:3.11.17-slim-trixie) and let
# Renovate or Dependabot move both. There is no `# syntax=` line on purpose:
# BuildKit's built-in frontend builds this file, so no frontend image is pulled
# by a tag that can move.
ARG PYTHON_IMAGE=python:3.11.17-slim-trixie

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
# A C compiler for the engine's kernels (driftwarden/native); it stays in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY requirements/image.lock requirements/
COPY scripts/install-image-deps.sh scripts/
RUN bash scripts/install-image-deps.sh /opt/venv /src

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/driftwarden/driftwarden
LABEL org.opencontainers.image.title="driftwarden" \
      org.opencontainers.image.description="Kubernetes operator that watches ML feature logs for data drift; also runs its analysis Jobs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.url="${SOURCE}" \
      org.opencontainers.image.documentation="${SOURCE}/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="driftwarden"

# The base image's own pip, setuptools and wheel go too; a named user for UID 65532
# (no home directory, no login) keeps tools that look the user up happy.
RUN python -m pip uninstall --quiet --yes pip setuptools wheel \
    && groupadd --system --gid 65532 driftwarden \
    && useradd --system --no-log-init --uid 65532 --gid 65532 \
        --home-dir /tmp --no-create-home --shell /usr/sbin/nologin driftwarden

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 65532:65532
WORKDIR /tmp
EXPOSE 9090 8080
ENTRYPOINT ["driftwarden"]
CMD ["run"]
