"""The background refresh policy: a failed refresh is retried after 5 s, 10 s, 20 s ... (capped), not on
the next tick, and the last good state keeps being served; proved on a real embedded store that dies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from crash import kill_embedded_server

from factories import T0, delta
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.serving.cograph_holder import CoGraphHolder
from graphrec.serving.refresh import Backoff, Refresher


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def own_store(tmp_path: Path, starts_processes: None) -> Iterator[FalkorDBStore]:
    """An embedded store this test may kill (the session's is shared)."""
    store = FalkorDBStore.embedded(tmp_path / "store", graph="refresh", die_with_parent=True, timeout_s=5.0)
    try:
        yield store
    finally:
        store.close()
        EmbeddedServer(tmp_path / "store").stop()


def test_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    clock = Clock()
    backoff = Backoff(first_s=5.0, cap_s=30.0, clock=clock)
    assert backoff.ready
    assert [backoff.failed() for _ in range(5)] == [5.0, 10.0, 20.0, 30.0, 30.0]
    assert not backoff.ready
    clock.now += 29.9
    assert not backoff.ready
    clock.now += 0.1
    assert backoff.ready
    backoff.succeeded()
    assert backoff.failed() == 5.0  # a success starts the next run of failures from the first wait


def test_backoff_refuses_a_cap_below_the_first_wait() -> None:
    with pytest.raises(ValueError, match="first_s <= cap_s"):
        Backoff(first_s=5.0, cap_s=1.0)


def test_a_failing_rebuild_backs_off_and_the_last_good_index_is_served(
    own_store: FalkorDBStore, tmp_path: Path
) -> None:
    own_store.upsert_interactions([delta("u1", "a", ts=T0), delta("u1", "b", ts=T0), delta("u2", "a", ts=T0)])
    clock = Clock()
    holder = CoGraphHolder(fanout=50, co_items=400)
    refresher = Refresher(
        "co-interaction index",
        lambda: holder.refresh(own_store),
        every_s=300.0,
        backoff=Backoff(first_s=5.0, cap_s=300.0, clock=clock),
        clock=clock,
    )
    assert refresher.run() and holder.index is not None
    good = holder.index
    assert not refresher.due  # the next rebuild is every_s away

    kill_embedded_server(tmp_path / "store")

    clock.now += 300.0
    assert refresher.tick() is False  # due, tried, failed
    assert holder.index is good and refresher.last_error is not None
    clock.now += 4.9
    assert not refresher.due and refresher.tick() is False  # not retried on the next ticks ...
    assert refresher.backoff.failures == 1
    clock.now += 0.1
    assert refresher.due  # ... but once 5 s have passed
    assert refresher.tick() is False and refresher.backoff.failures == 2
    clock.now += 9.9
    assert not refresher.due  # then 10 s
    assert holder.index is good  # served all along

    assert own_store.recover()  # the server is back (the API's watchdog does this)
    clock.now += 0.1
    assert refresher.tick() is True
    assert holder.index is not good and holder.index is not None
    assert refresher.backoff.failures == 0 and refresher.last_error is None and not refresher.due
