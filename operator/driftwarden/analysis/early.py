"""Start reading the current window while the reference profile loads.

Arrow decodes on its own threads without the GIL, while loading a cached reference
profile, computing its bin edges and seeding the samplers are Python work on the
main thread. Pulling the first batch of the current window on a thread lets the two
overlap: at 10^5 rows that first batch is most of the read (bench/RESULTS.md,
addendum 5). Only the first item is fetched early, so memory stays what the reader
holds for one batch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class StartedEarly(Iterator[T], Generic[T]):
    """An iterator whose first item is produced on a thread from construction on.

    Items, their order and any exception the source raises are the source's own:
    an exception raised while fetching the first item is raised by the first
    ``next``. The source is never advanced by two threads at once.
    """

    def __init__(self, source: Iterator[T]) -> None:
        self._source = source
        self._first: list[T] = []
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._fetch_first, name="driftwarden-read-ahead", daemon=True
        )
        self._thread.start()

    def _fetch_first(self) -> None:
        try:
            self._first.append(next(self._source))
        except StopIteration:
            pass
        except BaseException as error:  # handed to the consumer's thread
            self._error = error

    def __next__(self) -> T:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._first:
                return self._first.pop()
        return next(self._source)
