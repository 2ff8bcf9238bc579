"""Translate pyarrow / OS failures into driftwarden errors a person can act on.

pyarrow reports every storage problem as ``OSError`` (or ``ArrowInvalid``)
with the AWS SDK's error code embedded in the text, so classification is by
message. Messages built here name the URI and the endpoint, refer to
credentials only by the variable or Secret that holds them, and are scrubbed
of any credential value that might have been echoed back by a server.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import pyarrow as pa

from driftwarden.errors import (
    DataFormatError,
    DataNotFoundError,
    DriftwardenError,
    StorageError,
)
from driftwarden.storage.uri import StorageOptions, effective_endpoint, is_local, redact

# Patterns of pyarrow's messages, as text: ``re`` compiles (and caches) each on first
# use, which only comes once something failed; compiled here they cost every run
# ~2 ms of start-up.
_ACCESS_DENIED = (
    r"ACCESS_DENIED|SIGNATURE_DOES_NOT_MATCH|INVALID_ACCESS_KEY_ID|AccessDenied|"
    r"SignatureDoesNotMatch|InvalidAccessKeyId|ExpiredToken|EXPIRED_TOKEN|InvalidToken|"
    r"HTTP status 40[13]\b|UNRECOGNIZED_CLIENT|Forbidden|PERMISSION_DENIED|"
    r"Permission denied|Unauthorized"
)
_UNREACHABLE = (
    r"NETWORK_CONNECTION|curlCode: (5|6|7|28|35|52|56)\b|Could not resolve|"
    r"Couldn't resolve|Could not connect|Connection refused|Failed to connect|"
    r"Timeout was reached|timed out|UNAVAILABLE|Name or service not known"
)
_WRONG_REGION = r"HTTP status 301\b|PermanentRedirect|AuthorizationHeaderMalformed"
_NO_BUCKET = r"NO_SUCH_BUCKET|NoSuchBucket|Bucket '[^']*' not found|bucket does not exist"
_NOT_FOUND = r"NO_SUCH_KEY|NoSuchKey|RESOURCE_NOT_FOUND|Path does not exist|NOT_FOUND"
_UNREADABLE = (
    r"magic bytes|Not an Arrow file|File is too small|parse error|Couldn't deserialize thrift|"
    r"Corrupt|corrupt|Invalid IPC|Unexpected end|Malformed|Truncated|truncated|"
    r"Expected to read|Invalid: |CSV conversion error|JSON conversion|decompress|"
    r"Invalid column metadata|Unsupported encoding|unexpected end|out of bounds"
)
_CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def scrub(text: str) -> str:
    """Remove credential values (as found in the environment) from ``text``."""
    for name in _CREDENTIAL_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def credential_source(options: StorageOptions, uri: str = "") -> str:
    """Describe where credentials come from, without their values."""
    if options.anonymous:
        return "anonymous access (spec.storage.anonymous)"
    if uri.startswith(("gs://", "gcs://")):
        return (
            "Google Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS "
            "or the pod's workload identity)"
        )
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return (
            "the credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "(in the cluster: the Secret named by spec.storage.secretRef)"
        )
    return (
        "the default AWS credential chain (no AWS_ACCESS_KEY_ID set; "
        "in the cluster: set spec.storage.secretRef or a workload identity)"
    )


def endpoint_label(uri: str, options: StorageOptions) -> str:
    """The endpoint a URI is fetched from, for messages."""
    if uri.startswith(("gs://", "gcs://")):
        return redact(options.endpoint) if options.endpoint else "Google Cloud Storage"
    endpoint = effective_endpoint(options)
    return redact(endpoint) if endpoint else "AWS S3"


def translate(
    exc: BaseException,
    uri: str,
    options: StorageOptions,
    *,
    label: str = "data",
    fmt: str | None = None,
    file_uri: str | None = None,
) -> DriftwardenError:
    """Return the driftwarden error for a pyarrow/OS failure while touching ``uri``.

    ``file_uri`` names the single file being read when known; ``fmt`` is the
    declared format, used to word "cannot be read as ..." errors.
    """
    if isinstance(exc, DriftwardenError):
        return exc
    shown = redact(uri)
    detail = scrub(str(exc)).strip()
    where = redact(file_uri) if file_uri else shown

    if isinstance(exc, FileNotFoundError) or (
        isinstance(exc, OSError)
        and re.search(_NOT_FOUND, detail)
        and not re.search(_NO_BUCKET, detail)
    ):
        return DataNotFoundError(
            f"{label} not found: {where}",
            hint="nothing at this path; check the bucket and prefix"
            if not is_local(uri)
            else "nothing at this path; check the path",
        )
    if re.search(_NO_BUCKET, detail):
        bucket = _bucket_of(uri)
        return DataNotFoundError(
            f"{label} not found: {shown}",
            hint=f"bucket {bucket!r} does not exist at {endpoint_label(uri, options)}; "
            "check the bucket name and spec.storage.endpoint",
        )
    if not is_local(uri) and re.search(_ACCESS_DENIED, detail):
        return StorageError(
            f"access denied to {where} with {credential_source(options, uri)}",
            hint="check them, and that they may read/write this bucket",
        )
    if not is_local(uri) and re.search(_WRONG_REGION, detail):
        return StorageError(
            f"bucket {_bucket_of(uri)!r} of {shown} is in another region than the one used",
            hint="set spec.storage.region (or AWS_REGION) to the bucket's region",
        )
    if not is_local(uri) and re.search(_UNREACHABLE, detail):
        return StorageError(
            f"cannot reach storage endpoint {endpoint_label(uri, options)} for {shown}: "
            f"{_network_cause(detail)}",
            hint="check spec.storage.endpoint and the network path from the analysis pod",
        )
    if isinstance(exc, PermissionError):
        return StorageError(f"permission denied on {where}", hint="check file permissions")
    if isinstance(exc, (pa.ArrowInvalid, pa.ArrowNotImplementedError)) or re.search(
        _UNREADABLE, detail
    ):
        what = f"as {fmt}" if fmt else "in the declared format"
        return DataFormatError(
            f"cannot read {where} {what}: {_first_line(_strip_prefix(detail))}",
            hint=f"is it really {fmt}? {_format_setting(label)} "
            "(parquet, arrow, csv, jsonl), or remove the damaged file"
            if fmt
            else None,
        )
    if isinstance(exc, OSError):
        return StorageError(f"storage error on {where}: {_first_line(detail)}")
    return DataFormatError(f"cannot read {where}: {_first_line(detail)}")


def _format_setting(label: str) -> str:
    """How a person names the real format of ``label``'s files, as a flag and as a spec field."""
    side = label.split()[0] if label.split()[:1] in (["reference"], ["current"]) else None
    if side is None:
        return "set the files' real format"
    return f"give the files' real format with --{side}-format (spec.{side}.format)"


@contextlib.contextmanager
def storage_errors(
    uri: str,
    options: StorageOptions,
    *,
    label: str = "data",
    fmt: str | None = None,
) -> Iterator[None]:
    """Context manager re-raising pyarrow/OS failures as driftwarden errors."""
    try:
        yield
    except DriftwardenError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise translate(exc, uri, options, label=label, fmt=fmt) from exc


def _bucket_of(uri: str) -> str:
    rest = uri.split("://", 1)[-1]
    return rest.split("/", 1)[0].rpartition("@")[2]


def _network_cause(detail: str) -> str:
    """The transport's own words ("Could not resolve hostname"), without SDK framing."""
    match = re.search(r"curlCode: \d+, ([^;]+)", detail)
    return match.group(1).strip() if match else _first_line(detail)


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line[:400]


def _strip_prefix(detail: str) -> str:
    """Drop pyarrow's generic wrappers so the message shows the actual cause once."""
    detail = re.sub(r"^Error creating dataset\. ", "", detail)
    detail = re.sub(r"Could not read schema from '[^']*'\. Is this a '\w+' file\?: ", "", detail)
    detail = re.sub(r"Could not open \w+ input source '[^']*': ", "", detail)
    return re.sub(r"^Invalid: ", "", detail)
