"""Injected HTTP faults: what an overloaded or restarting API server answers.

- 429 TooManyRequests with ``Retry-After`` (API Priority and Fairness rejecting a request:
  https://kubernetes.io/docs/concepts/cluster-administration/flow-control/),
- 500 InternalError / 503 ServiceUnavailable (an apiserver or etcd hiccup),
- ``"drop"``: the connection is closed without any response (a load balancer or an
  apiserver restarting mid-request),
- ``"conflict"``: another client writes the object first. Just before the matched request
  is handled, the object it names gets a metadata-only update (annotation
  ``kubeapi.test/concurrent-write``; a new resourceVersion, watches see it), so a write
  made conditional on the resourceVersion the client read fails with the server's own
  ``409 Conflict`` ("the object has been modified"), exactly as when two writers race
  (https://kubernetes.io/docs/reference/using-api/api-concepts/#conflicts). An
  unconditional write goes through, as on a real server. Requests naming no object are
  left alone.

Rules match method, resource plural, namespace, a path regex and ``when`` (a predicate
called on the server's thread at request time, which may read the server's state), and
fire ``count`` times (``None``: until removed).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .validation import ApiError

DROP = "drop"
CONFLICT = "conflict"
CONFLICT_ANNOTATION = "kubeapi.test/concurrent-write"
_concurrent_writes = itertools.count(1)  # each write sets a new value: never a no-op
_ids = itertools.count(1)
_MESSAGES = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected by the kubeapi test fixture",
    503: "the server is currently unable to handle the request",
}
_REASONS = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


@dataclass
class Fault:
    """One fault rule; ``hits`` counts the requests it answered, ``remove()`` uninstalls it."""

    status: int | str
    method: str | None = None
    plural: str | None = None
    namespace: str | None = None
    path: str | None = None
    count: int | None = 1
    retry_after: int = 1
    message: str | None = None
    when: Callable[[], bool] | None = None
    hits: int = 0
    id: int = field(default_factory=lambda: next(_ids))
    _owner: Faults | None = field(default=None, repr=False)

    def matches(self, method: str, path: str, plural: str | None, namespace: str | None) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.plural is not None and self.plural != plural:
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        if self.path is not None and re.search(self.path, path) is None:
            return False
        return self.when is None or bool(self.when())

    def error(self) -> ApiError:
        assert isinstance(self.status, int)
        details: dict[str, Any] | None = None
        headers = {}
        if self.status == 429:
            details = {"retryAfterSeconds": self.retry_after}
            headers["Retry-After"] = str(self.retry_after)
        elif self.status == 503:
            headers["Retry-After"] = str(self.retry_after)
        message = self.message or _MESSAGES.get(self.status, "injected failure")
        return ApiError(self.status, message, reason=_REASONS.get(self.status, ""), details=details,
                        headers=headers)  # fmt: skip

    @staticmethod
    def concurrent_write() -> str:
        """The annotation value of a ``"conflict"`` rule's write: new every time."""
        return str(next(_concurrent_writes))

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[Fault] = []

    def inject(self, status: int | str, **kwargs: Any) -> Fault:
        if status not in (DROP, CONFLICT) and not (
            isinstance(status, int) and 400 <= status <= 599
        ):
            raise ValueError(
                f"inject(status={status!r}): use an HTTP error code (429, 500, 503), 'drop' "
                "or 'conflict'"
            )
        rule = Fault(status, **kwargs, _owner=self)
        if rule.path is not None:
            re.compile(rule.path)  # a bad pattern fails here, in the test, not in the server
        with self._lock:
            self.rules.append(rule)
        return rule

    def remove(self, rule: Fault) -> None:
        with self._lock:
            self.rules = [r for r in self.rules if r.id != rule.id]

    def take(
        self, method: str, path: str, plural: str | None, namespace: str | None
    ) -> Fault | None:
        """The first rule matching this request (its hit counted), or None."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path, plural, namespace):
                    rule.hits += 1
                    return rule
        return None
