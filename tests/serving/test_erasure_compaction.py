"""An erasure whose store rewrite did not finish in time is finished in the background
(:class:`graphrec.serving.erasure.CompactionFinisher`), so the old bytes never stay on disk by chance."""

from __future__ import annotations

import threading

from graphrec.serving.erasure import CompactionFinisher
from tests.deadlines import wait_until


class Rewrites:
    """A store whose rewrite answers each round with the next of ``answers`` (then True)."""

    def __init__(self, *answers: bool | None, gate: threading.Event | None = None) -> None:
        self.answers = list(answers)
        self.rounds: list[float] = []
        self.gate = gate
        self.entered = threading.Event()  # a round has started (forked, in the store's terms)

    def __call__(self, round_s: float) -> bool | None:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        self.rounds.append(round_s)
        return self.answers.pop(0) if self.answers else True


def finisher(store: Rewrites) -> CompactionFinisher:
    return CompactionFinisher(store, round_s=60.0, retry_s=0.01, max_retry_s=0.05)


def test_a_late_rewrite_is_asked_again_until_one_finishes() -> None:
    store = Rewrites(False, False)  # two rounds past their deadline, then done
    f = finisher(store)
    f.request()
    wait_until(lambda: not f.pending, what="the owed rewrite finished", detail=lambda: store.rounds)
    assert store.rounds == [60.0, 60.0, 60.0]


def test_a_store_error_is_retried_like_a_late_rewrite() -> None:
    calls: list[int] = []

    def flaky(round_s: float) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("store restarting")
        return True

    f = CompactionFinisher(flaky, round_s=1.0, retry_s=0.01, max_retry_s=0.05)
    f.request()
    wait_until(lambda: not f.pending, what="the rewrite after the store error", detail=lambda: calls)
    assert len(calls) == 2


def test_an_erasure_during_a_round_gets_a_round_that_starts_after_it() -> None:
    gate = threading.Event()
    store = Rewrites(gate=gate)
    f = finisher(store)
    f.request()  # round 1 starts and waits at the gate
    wait_until(store.entered.is_set, what="the first round running")
    f.request()  # an erasure while round 1 runs: round 1 may have forked before it
    gate.set()
    wait_until(lambda: not f.pending, what="both rounds done", detail=lambda: store.rounds)
    assert len(store.rounds) == 2


def test_a_store_without_a_history_file_is_not_asked_again() -> None:
    store = Rewrites(None)
    f = finisher(store)
    f.request()
    wait_until(lambda: not f.pending, what="the finisher idle", detail=lambda: store.rounds)
    assert store.rounds == [60.0]


def test_close_stops_the_retries() -> None:
    store = Rewrites(*([False] * 10_000))
    f = CompactionFinisher(store, round_s=1.0, retry_s=5.0, max_retry_s=5.0)
    f.request()
    wait_until(lambda: len(store.rounds) >= 1, what="the first round")
    f.close(timeout_s=10.0)
    assert len(store.rounds) == 1
