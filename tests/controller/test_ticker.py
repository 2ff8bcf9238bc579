"""The operator-wide tick: every indexed monitor once a sweep, failures contained, waits for kopf."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import pytest

from driftwarden.controller.cache import ClusterView
from driftwarden.controller.ticker import Ticker


def _monitor(uid: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "namespace": "ns", "name": f"m-{uid}"}}


class Recorder:
    """Stands in for the Reconciler: the ticker's job is to call it, not what it does."""

    def __init__(self, failing: set[str] = frozenset(), gate: asyncio.Event | None = None) -> None:
        self.failing = failing
        self.gate = gate
        self.calls: list[str] = []
        self.running = 0
        self.most = 0

    async def reconcile(self, body: dict[str, Any], view: ClusterView) -> None:
        uid = body["metadata"]["uid"]
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            self.calls.append(uid)
            if uid in self.failing:
                raise RuntimeError(f"broken {uid}")
        finally:
            self.running -= 1


def _view(*uids: str) -> ClusterView:
    return ClusterView(monitors={uid: [_monitor(uid)] for uid in uids})


def test_a_sweep_reconciles_every_monitor_once_with_bounded_concurrency() -> None:
    async def main() -> Recorder:
        gate = asyncio.Event()
        recorder = Recorder(gate=gate)
        ticker = Ticker(recorder, interval=60, workers=3)  # type: ignore[arg-type]
        sweep = asyncio.create_task(ticker.sweep(_view(*(str(i) for i in range(10)))))
        while recorder.running < 3:
            await asyncio.sleep(0)
        for _ in range(20):  # give any fourth worker every chance to start
            await asyncio.sleep(0)
        assert recorder.running == 3
        gate.set()
        await sweep
        assert ticker.sweeps == 1
        return recorder

    recorder = asyncio.run(main())
    assert sorted(recorder.calls, key=int) == [str(i) for i in range(10)]
    assert recorder.most == 3


def test_one_failing_monitor_does_not_stop_the_others_and_logs_its_traceback_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(failing={"b"})
    ticker = Ticker(recorder, interval=60)  # type: ignore[arg-type]
    view = _view("a", "b", "c")
    with caplog.at_level(logging.ERROR, logger="driftwarden.controller"):
        asyncio.run(ticker.sweep(view))
        asyncio.run(ticker.sweep(view))
    assert sorted(recorder.calls) == ["a", "a", "b", "b", "c", "c"]
    records = [r for r in caplog.records if "reconciliation failed" in r.getMessage()]
    assert len(records) == 2
    assert records[0].exc_info is not None and records[1].exc_info is None
    assert "broken b" in records[1].getMessage()
    assert all(getattr(r, "monitor", None) == "ns/m-b" for r in records)


def test_a_monitor_deleted_during_the_sweep_is_skipped() -> None:
    view = _view("a", "b")

    class Deleting(Recorder):
        async def reconcile(self, body: dict[str, Any], view_: ClusterView) -> None:
            await super().reconcile(body, view_)
            view.monitors.pop("b", None)  # type: ignore[attr-defined]

    recorder = Deleting()
    asyncio.run(Ticker(recorder, interval=60, workers=1).sweep(view))  # type: ignore[arg-type]
    assert recorder.calls == ["a"]


POSTING = contextvars.ContextVar("posting")  # as kopf keeps its Event queue


def test_ticks_run_in_the_context_of_the_handler_that_started_them_and_repeat() -> None:
    """kopf.event finds its queue in a context variable a resource handler's task holds;
    the ticker's passes must see it too, or their Events are lost."""

    class Seeing(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[object] = []

        async def reconcile(self, body: dict[str, Any], view: ClusterView) -> None:
            self.seen.append(POSTING.get(None))
            await super().reconcile(body, view)

    async def handler(ticker: Ticker, indices: dict[str, Any]) -> None:
        POSTING.set("kopf's queue")
        ticker.ensure_started(indices)
        ticker.ensure_started(indices)  # every handler calls it; one loop runs

    async def main() -> tuple[Seeing, int]:
        recorder = Seeing()
        ticker = Ticker(recorder, interval=0.01)  # type: ignore[arg-type]
        await asyncio.create_task(handler(ticker, {"monitors_by_uid": {"a": [_monitor("a")]}}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while ticker.sweeps < 3 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await ticker.stop()
        return recorder, ticker.sweeps

    recorder, sweeps = asyncio.run(main())
    assert sweeps >= 3
    assert sweeps <= len(recorder.calls) <= sweeps + 1  # one loop, not two (+1: stopped mid-sweep)
    assert set(recorder.seen) == {"kopf's queue"}


def test_a_deleted_monitor_that_was_failing_is_forgotten() -> None:
    recorder = Recorder(failing={"b"})
    ticker = Ticker(recorder, interval=60)  # type: ignore[arg-type]
    asyncio.run(ticker.sweep(_view("a", "b")))
    assert set(ticker._failing) == {"b"}
    asyncio.run(ticker.sweep(_view("a")))
    assert ticker._failing == {}
