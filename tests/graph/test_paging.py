"""The page prefetcher: order, error propagation and early stop (the export and co-graph rely on it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from deadlines import wait_until

from graphrec.graph.paging import prefetched


def test_yields_every_item_in_order() -> None:
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))
    assert list(prefetched(iter([]))) == []


def test_reads_ahead_while_the_consumer_works() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for k in range(3):
            produced.append(k)
            yield k

    pages = prefetched(source(), depth=2)
    assert next(pages) == 0
    # the reader goes on without waiting for the consumer, who has taken one page only
    wait_until(lambda: len(produced) == 3, what="the reader to read ahead", interval_s=0.01, detail=lambda: produced)
    assert produced == [0, 1, 2]
    assert list(pages) == [1, 2]


def test_a_reader_error_reaches_the_consumer_after_the_good_pages() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise ConnectionError("store went away")

    pages = prefetched(source())
    assert next(pages) == 1
    with pytest.raises(ConnectionError, match="store went away"):
        next(pages)


def test_closing_early_stops_the_reader() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        k = 0
        while True:
            produced.append(k)
            yield k
            k += 1

    def readers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "graphrec-prefetch"}

    before = readers()
    pages = prefetched(endless(), depth=1)
    assert next(pages) == 0
    pages.close()
    seen = len(produced)
    wait_until(lambda: readers() == before, what="the reader thread to end")  # close() joins it
    assert len(produced) == seen  # and it read nothing after close
