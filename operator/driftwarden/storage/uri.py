"""Turn a data URI into an Arrow filesystem and a path on it.

Supported forms:

* plain local paths (relative, absolute, ``~``) and ``file://`` URIs;
* ``s3://bucket/key`` through :class:`pyarrow.fs.S3FileSystem` (AWS or any
  S3-compatible endpoint such as MinIO or SeaweedFS);
* ``gs://bucket/key`` (also ``gcs://``) through :class:`pyarrow.fs.GcsFileSystem`.

Credentials never travel in URIs or options: S3 takes them from the standard
AWS chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN``, profiles, IRSA), GCS from Application Default
Credentials. In the cluster, the operator mounts ``spec.storage.secretRef`` as
those environment variables.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote

import pyarrow.fs as pafs

from driftwarden.errors import ConfigError

#: Schemes accepted by :func:`resolve_filesystem`, in the order shown to users.
SUPPORTED_SCHEMES = ("file", "s3", "gs")

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEME_ALIASES = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs", "file": "file"}


@dataclass(frozen=True)
class StorageOptions:
    """Where and how to reach object storage (mirrors ``spec.storage``, minus the secret).

    ``endpoint`` is a URL such as ``http://minio:9000``; its scheme decides
    between plain HTTP and TLS. Unset fields fall back to ``AWS_ENDPOINT_URL_S3``
    / ``AWS_ENDPOINT_URL`` and ``AWS_REGION`` / ``AWS_DEFAULT_REGION``.
    The timeouts and the small retry budget exist so that an unreachable
    endpoint fails a run in seconds instead of hanging the analysis Job.
    """

    endpoint: str | None = None
    region: str | None = None
    anonymous: bool = False
    connect_timeout: float = 5.0
    request_timeout: float = 60.0
    max_attempts: int = 3


def split_scheme(uri: str) -> tuple[str | None, str]:
    """Return ``(scheme, rest)``; ``scheme`` is lower-cased, ``None`` for plain paths."""
    match = _SCHEME_RE.match(uri)
    if not match:
        return None, uri
    return match.group(1).lower(), uri[match.end() :]


def redact(uri: str) -> str:
    """Drop any ``user:password@`` part of a URI so it can go into messages and logs."""
    scheme, rest = split_scheme(uri)
    if scheme is None:
        return uri
    authority, sep, path = rest.partition("/")
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    return f"{scheme}://{authority}{sep}{path}"


def is_local(uri: str) -> bool:
    """True when ``uri`` names the local filesystem."""
    scheme, _ = split_scheme(uri)
    return scheme is None or scheme == "file"


def resolve_filesystem(uri: str, options: StorageOptions) -> tuple[pafs.FileSystem, str]:
    """Map ``uri`` to ``(filesystem, path)``; the path is what the filesystem expects.

    Glob characters are kept verbatim in the returned path; discovery expands them.
    """
    if not uri or not uri.strip():
        raise ConfigError("empty data path", hint="set a path such as s3://bucket/prefix/")
    scheme, rest = split_scheme(uri)
    if scheme is None:
        return pafs.LocalFileSystem(), _local_path(uri)
    kind = _SCHEME_ALIASES.get(scheme)
    if kind is None:
        raise ConfigError(
            f"unsupported URI scheme {scheme!r} in {redact(uri)}",
            hint="supported: plain paths, " + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES),
        )
    if kind == "file":
        # file:///abs/path and file://localhost/abs/path; percent-escapes are decoded.
        authority, _, path = rest.partition("/")
        if authority not in ("", "localhost"):
            raise ConfigError(
                f"file URI with a host is not supported: {redact(uri)}",
                hint="use file:///absolute/path",
            )
        return pafs.LocalFileSystem(), _local_path("/" + unquote(path))

    bucket_part, _, key = rest.partition("/")
    if "@" in bucket_part:
        # Never accept credentials embedded in URIs: they would leak into specs,
        # status messages and logs.
        raise ConfigError(
            f"credentials in data URIs are not supported: {redact(uri)}",
            hint="put them in the Secret named by spec.storage.secretRef "
            "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
        )
    if not bucket_part:
        raise ConfigError(f"no bucket in {redact(uri)}", hint=f"use {scheme}://bucket/prefix/")
    path = f"{bucket_part}/{key}".rstrip("/")
    if kind == "s3":
        return s3_filesystem(options, bucket=bucket_part), path
    return gcs_filesystem(options), path


def _local_path(path: str) -> str:
    """Absolute local path with ``~`` expanded (LocalFileSystem requires absolute paths)."""
    return os.path.abspath(os.path.expanduser(path))


def parse_endpoint(endpoint: str) -> tuple[str, str]:
    """Split ``http://host:port`` into ``("http", "host:port")``; bare hosts mean https."""
    scheme, rest = split_scheme(endpoint.strip())
    if scheme is None:
        scheme = "https"
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"storage endpoint must be an http:// or https:// URL, got {redact(endpoint)!r}",
            hint="set spec.storage.endpoint, e.g. http://minio:9000",
        )
    hostport = rest.rstrip("/")
    if "@" in hostport:
        raise ConfigError(
            f"credentials in the storage endpoint are not supported: {redact(endpoint)}",
            hint="use the Secret named by spec.storage.secretRef",
        )
    if not hostport or "/" in hostport:
        raise ConfigError(
            f"storage endpoint must be scheme://host[:port] without a path, got {redact(endpoint)!r}",
            hint="set spec.storage.endpoint, e.g. http://minio:9000",
        )
    return scheme, hostport


def effective_endpoint(options: StorageOptions) -> str | None:
    """The S3 endpoint in use: the option, else the standard AWS environment variables."""
    return (
        options.endpoint
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )


def effective_region(options: StorageOptions) -> str | None:
    """The S3 region in use: the option, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``."""
    return options.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def s3_filesystem(options: StorageOptions, *, bucket: str | None = None) -> pafs.S3FileSystem:
    """Build an S3 filesystem that fails fast and reads credentials from the AWS chain."""
    kwargs: dict[str, object] = {
        "anonymous": options.anonymous,
        "connect_timeout": options.connect_timeout,
        "request_timeout": options.request_timeout,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=options.max_attempts),
    }
    endpoint = effective_endpoint(options)
    region = effective_region(options)
    if endpoint:
        scheme, hostport = parse_endpoint(endpoint)
        kwargs["endpoint_override"] = hostport
        kwargs["scheme"] = scheme
        # S3-compatible servers ignore the region but the request signature
        # needs one; pinning it also keeps the SDK from probing EC2 metadata.
        region = region or "us-east-1"
    elif region is None and bucket:
        # Real AWS with no region given: ask S3 where the bucket lives so the
        # requests are not redirected (and rejected) later.
        try:
            region = pafs.resolve_s3_region(bucket)
        except (OSError, ValueError):
            region = None
    if region:
        kwargs["region"] = region
    return pafs.S3FileSystem(**kwargs)  # type: ignore[arg-type]


def gcs_filesystem(options: StorageOptions) -> pafs.FileSystem:
    """Build a GCS filesystem (Application Default Credentials unless anonymous)."""
    from datetime import timedelta

    kwargs: dict[str, object] = {
        "anonymous": options.anonymous,
        # Bound the client's internal retries so unreachable storage fails the run.
        "retry_time_limit": timedelta(seconds=max(options.request_timeout, 1.0)),
    }
    if options.endpoint:
        scheme, hostport = parse_endpoint(options.endpoint)
        kwargs["endpoint_override"] = hostport
        kwargs["scheme"] = scheme
    try:
        return pafs.GcsFileSystem(**kwargs)  # type: ignore[arg-type]
    except (ImportError, AttributeError) as exc:  # pragma: no cover - build-dependent
        raise ConfigError(
            "gs:// is not available: this pyarrow build has no GCS support",
            hint="use a pyarrow wheel from PyPI",
        ) from exc
