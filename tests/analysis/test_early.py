"""StartedEarly: the first item is fetched on a thread, everything else is the source's."""

import threading

import pytest

from driftwarden.analysis.early import StartedEarly


def test_items_come_in_the_source_order_the_first_one_fetched_ahead():
    fetched_by: list[str] = []
    first_fetched = threading.Event()

    def source():
        for item in range(5):
            fetched_by.append(threading.current_thread().name)
            if item == 0:
                first_fetched.set()
            yield item

    early = StartedEarly(source())
    # Nobody has asked yet, but the first item is being (or has been) produced.
    assert first_fetched.wait(timeout=30)
    assert list(early) == [0, 1, 2, 3, 4]
    assert fetched_by[0] == "driftwarden-read-ahead"
    assert set(fetched_by[1:]) == {threading.current_thread().name}


def test_an_error_while_fetching_the_first_item_is_raised_by_the_first_next():
    def source():
        raise ValueError("no such column: 'x'")
        yield  # pragma: no cover

    early = StartedEarly(source())
    with pytest.raises(ValueError, match="no such column"):
        next(early)
    assert list(early) == []


def test_an_error_after_the_first_item_surfaces_where_it_happens():
    def source():
        yield 1
        raise OSError("connection reset")

    early = StartedEarly(source())
    assert next(early) == 1
    with pytest.raises(OSError, match="connection reset"):
        next(early)


def test_an_empty_source_stops_at_once():
    assert list(StartedEarly(iter(()))) == []
