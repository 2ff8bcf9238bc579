"""Watch lag: one resource's watches run behind the store, and behind the others.

Kubernetes orders the events of one watch (one resource, by resourceVersion), and nothing
else: a controller's watch (informer) of Pods and its watch of Jobs see the cluster at
different moments, and both may be behind what a fresh GET or LIST returns
(https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes,
https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch). On a real
cluster that lag is a race; here a test holds it open: ``hold_watch("pods")`` stops every
watch of pods from sending object events (they queue, in order) until ``.release()``, while
the store, LIST, GET and the other resources' watches go on. Bookmarks and the end of a
watch are not held back by it.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

_ids = itertools.count(1)


@dataclass
class WatchHold:
    """Watches of ``plural`` (in ``group``; None: any group) send nothing while it holds;
    ``delayed`` counts the events that waited for it, ``release()`` lets them through."""

    plural: str
    group: str | None = None
    delayed: int = 0
    id: int = field(default_factory=lambda: next(_ids))
    _holds: WatchHolds | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._holds is not None:
            self._holds.discard(self)

    def __enter__(self) -> WatchHold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class WatchHolds:
    """The holds in force; read on the server's loop, changed from tests' threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: list[WatchHold] = []

    def hold(self, plural: str, group: str | None = None) -> WatchHold:
        hold = WatchHold(plural, group, _holds=self)
        with self._lock:
            self._holds.append(hold)
        return hold

    def discard(self, hold: WatchHold) -> None:
        with self._lock:
            self._holds = [h for h in self._holds if h.id != hold.id]

    def release_all(self) -> None:
        with self._lock:
            self._holds = []

    def holding(self, plural: str, group: str) -> WatchHold | None:
        """The hold that keeps a watch of ``group``/``plural`` waiting now, if any."""
        with self._lock:
            return next(
                (
                    h
                    for h in self._holds
                    if h.plural == plural and (h.group is None or h.group == group)
                ),
                None,
            )
