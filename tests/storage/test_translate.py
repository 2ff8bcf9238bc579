"""Classification of pyarrow/OS failure messages (texts as pyarrow 26 words them)."""

from __future__ import annotations

import pyarrow as pa

from driftwarden.errors import DataFormatError, DataNotFoundError, StorageError
from driftwarden.storage import StorageOptions
from driftwarden.storage.errors import scrub, translate

S3 = StorageOptions(endpoint="http://minio:9000")


def test_secrets_from_the_environment_are_scrubbed(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    assert scrub("key AKIAEXAMPLE secret s3cr3t-value") == "key *** secret ***"
    exc = OSError("AWS Error UNKNOWN (HTTP status 500): echo s3cr3t-value AKIAEXAMPLE")
    message = str(translate(exc, "s3://b/k", S3))
    assert "s3cr3t-value" not in message and "AKIAEXAMPLE" not in message


def test_classification():
    cases = [
        (
            OSError(
                "When reading information for key 'k' in bucket 'b': AWS Error "
                "SIGNATURE_DOES_NOT_MATCH during HeadObject operation"
            ),
            StorageError,
            "access denied to s3://b/k",
        ),
        (
            OSError(
                "AWS Error NETWORK_CONNECTION during HeadObject operation: curlCode: 6, "
                "Could not resolve hostname; Details: Could not resolve host: minio"
            ),
            StorageError,
            "cannot reach storage endpoint http://minio:9000 for s3://b/k: Could not resolve hostname",
        ),
        (
            OSError("AWS Error UNKNOWN (HTTP status 301) during HeadObject operation"),
            StorageError,
            "another region",
        ),
        (
            OSError("AWS Error NO_SUCH_BUCKET during ListObjectsV2 operation"),
            DataNotFoundError,
            "bucket 'b' does not exist at http://minio:9000",
        ),
        (FileNotFoundError("Path does not exist 'b/k'"), DataNotFoundError, "not found: s3://b/k"),
        (
            pa.ArrowInvalid("Parquet magic bytes not found in footer."),
            DataFormatError,
            "as parquet",
        ),
    ]
    for exc, kind, text in cases:
        error = translate(exc, "s3://b/k", S3, fmt="parquet")
        assert isinstance(error, kind), (exc, error)
        assert text in str(error), str(error)


def test_gcs_access_denied_names_google_credentials():
    error = translate(
        OSError("google::cloud::Status(PERMISSION_DENIED: denied)"), "gs://b/k", StorageOptions()
    )
    assert isinstance(error, StorageError)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(error)
