"""Shared test fixtures."""

pytest_plugins = [
    "tests.s3server",  # a real S3 server (SeaweedFS weed mini) for storage, analysis and CLI tests
    "tests.kubeapi.fixtures",  # a strict Kubernetes-style API server for the operator's tests
]
