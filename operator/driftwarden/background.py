"""A function run on a thread of its own while the caller goes on, and waited for later.

For the engine's short side jobs beside a scan: faulting in the pages the sampling
reserve is about to fill (profile/reserve.py), comparing a cached profile's payload
checksum (profile/serialize.py). A bare ``_thread`` rather than ``threading.Thread``,
whose ``start`` waits until the new thread runs: on a busy machine that wait cost
5-15 ms a start, more than the work it moves (16 starts a run at 1,000 features,
bench/RESULTS.md, addendum 18v).
"""

from __future__ import annotations

import _thread
from collections.abc import Callable


class Background:
    """``function()`` running on a new thread from construction on; :meth:`wait` returns
    once it has returned. ``function`` must catch what it can raise (an exception there
    is only reported by the interpreter's thread hook) and keep its result itself."""

    def __init__(self, function: Callable[[], object]) -> None:
        self._done = _thread.allocate_lock()
        self._done.acquire()  # held until function returns
        done = self._done

        def run() -> None:
            try:
                function()
            finally:
                done.release()

        _thread.start_new_thread(run, ())

    def wait(self) -> None:
        """Until ``function`` has returned (at once if it has)."""
        with self._done:
            pass
