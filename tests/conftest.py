"""Shared test fixtures."""

# A real S3 server (SeaweedFS weed mini) for storage, analysis and CLI tests.
pytest_plugins = ["tests.s3server"]
