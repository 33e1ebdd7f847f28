"""The API worker's runtime settings against refresh stalls: frozen long-lived objects, a larger young
generation, a short thread switch interval (api/heap.py, api/server.py)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from api.heap import YOUNG_THRESHOLD, settle_heap
from api.server import server_config
from graphrec.config import Settings


@pytest.fixture
def restored() -> Iterator[None]:
    """These settings are the process's: each test puts them back as it found them."""
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    sys.setswitchinterval(interval)


def test_settling_freezes_what_lives_now_and_raises_the_young_threshold(restored: None) -> None:
    kept = [[i] for i in range(1_000)]  # lists: always tracked by the collector
    settle_heap(collect=True)
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert not any(any(o is k for o in gc.get_objects(2)) for k in kept[:3])  # out of every scan
    before = gc.get_freeze_count()
    more = [[i] for i in range(1_000)]
    settle_heap()  # after a refresh: what it built joins the frozen objects
    assert gc.get_freeze_count() >= before + len(more)


def test_a_worker_switches_threads_at_the_configured_interval(restored: None) -> None:
    app = SimpleNamespace(state=SimpleNamespace())
    server_config(app, Settings(gil_switch_ms=0.25))
    assert sys.getswitchinterval() == pytest.approx(0.00025)
    assert app.state.settle_heap is True  # the served app settles its heap; one a test builds does not
