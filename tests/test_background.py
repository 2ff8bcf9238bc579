"""driftwarden.background: a function on a thread of its own, waited for later."""

from __future__ import annotations

import threading

from driftwarden.background import Background


def test_the_function_runs_on_another_thread_and_wait_returns_once_it_has() -> None:
    release = threading.Event()
    seen: list[int] = []

    def work() -> None:
        release.wait(30)  # held until the caller has gone on
        seen.append(threading.get_ident())

    running = Background(work)
    assert seen == []  # the caller went on while the function waits
    release.set()
    running.wait()
    assert seen and seen[0] != threading.get_ident()
    running.wait()  # again: at once
