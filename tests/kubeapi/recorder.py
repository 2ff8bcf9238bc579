"""Events posted by the in-server controllers, as client-go's EventRecorder posts them.

Legacy core/v1 Events named ``<object>.<hex>``, with ``source.component``; a repeat of the
same reason and message on the same object bumps ``count`` and ``lastTimestamp`` (the
recorder's event correlator) instead of adding an Event.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import TYPE_CHECKING, Any

from .validation import ApiError

if TYPE_CHECKING:
    from .core import Core


def record_event(
    core: Core, obj: dict[str, Any], event_type: str, reason: str, message: str, component: str
) -> None:
    """Post (or count again) one Event about ``obj``; never fails the controller."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    now = core.clock.rfc3339()
    for stored in core.objects.get("/events", {}).values():
        inv = stored.get("involvedObject") or {}
        if (
            inv.get("uid") == meta["uid"]
            and stored.get("reason") == reason
            and stored.get("message") == message
        ):
            core._system_update(core.storage_types["/events"], stored, lambda e: e.update(
                count=int(e.get("count") or 1) + 1, lastTimestamp=now))  # fmt: skip
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
