"""A strict, generic Kubernetes-style API server for tests (see README.md)."""

from .server import KubeAPIServer, RequestRecord
from .validation import ApiError

__all__ = ["ApiError", "KubeAPIServer", "RequestRecord"]
