"""Events posted by the in-server controllers, as client-go's EventRecorder posts them.

Legacy core/v1 Events named ``<object>.<hex>``, with ``source.component``. The recorder's
EventCorrelator (client-go tools/record/events_cache.go) is modelled: a repeat of the same
reason and message on the same object bumps ``count`` and ``lastTimestamp``; from the 10th
distinct message with the same object, type and reason within 10 minutes, one Event
``(combined from similar events): <latest message>`` is updated instead.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import TYPE_CHECKING, Any

from .clock import parse_time
from .validation import ApiError

AGGREGATE_MAX = 10  # defaultAggregateMaxEvents
AGGREGATE_WINDOW = 600.0  # defaultAggregateIntervalInSeconds
COMBINED = "(combined from similar events): "

if TYPE_CHECKING:
    from .core import Core


def record_event(
    core: Core, obj: dict[str, Any], event_type: str, reason: str, message: str, component: str
) -> None:
    """Post (or count again) one Event about ``obj``; never fails the controller."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    now = core.clock.rfc3339()
    similar = [
        e
        for e in core.objects.get("/events", {}).values()
        if (e.get("involvedObject") or {}).get("uid") == meta["uid"]
        and e.get("reason") == reason
        and e.get("type") == event_type
        and core.clock.time() - (parse_time(e.get("firstTimestamp")) or 0) < AGGREGATE_WINDOW
    ]
    combined = [e for e in similar if str(e.get("message", "")).startswith(COMBINED)]
    same = [e for e in similar if e.get("message") == message]
    if not same and len(similar) - len(combined) >= AGGREGATE_MAX:
        message = COMBINED + message
        same = combined
    if same:
        core._system_update(core.storage_types["/events"], same[0], lambda e: e.update(
            count=int(e.get("count") or 1) + 1, lastTimestamp=now, message=message))  # fmt: skip
        return
    body = {
        "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""),
            "name": meta["name"], "namespace": namespace, "uid": meta["uid"],
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason, "message": message, "type": event_type, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": component}, "reportingComponent": component, "reportingInstance": "",
    }  # fmt: skip
    rt = core.find_type("", "v1", "events")
    assert rt is not None
    with contextlib.suppress(ApiError):  # a refused Event is lost, as on a real cluster
        core.create(rt, namespace, body)
