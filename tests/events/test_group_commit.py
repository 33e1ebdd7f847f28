"""Group commit over the real embedded store: fewer writes, same answers, nothing lost or doubled."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

import pytest
from deadlines import WAIT_S, Threads

from factories import T0, delta
from graphrec.events.group_commit import GroupCommitter, merge_deltas
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import EventKey, EventWriteResult
from graphrec.graph.records import InteractionDelta, UserRecord


def run_concurrently(committer: GroupCommitter, requests: list[tuple[list, list]]) -> list:
    """Each request's result (or what it raised), all sent at once from threads of their own."""
    results: list = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def go(k: int) -> None:
        barrier.wait(WAIT_S)
        deltas, events = requests[k]
        try:
            results[k] = committer.write(deltas, events=events, now_ms=T0)
        except Exception as exc:  # surfaced to the assertion below
            results[k] = exc

    threads = Threads()
    for k in range(len(requests)):
        threads.start(go, k)
    threads.join()
    return results


class HeldStore:
    """The store, its first ``upsert_interactions_once`` held until the test releases it: requests sent
    meanwhile queue behind that write, as they do behind a slow fsync under load, whatever the scheduler."""

    def __init__(self, store: FalkorDBStore) -> None:
        self._store = store
        self.writing = threading.Event()
        self.release = threading.Event()

    def upsert_interactions_once(
        self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        if not self.writing.is_set():
            self.writing.set()
            assert self.release.wait(WAIT_S), "the test never released the held write"
        return self._store.upsert_interactions_once(deltas, events=events, now_ms=now_ms)


def test_merge_deltas_adds_aggregates_and_widens_times() -> None:
    merged = merge_deltas(
        [
            [delta("u", "i", 1.0, ts=T0, types={"view": 1})],
            [delta("u", "i", 2.0, ts=T0 - 5, types={"click": 1, "view": 1}), delta("u", "j", 1.0)],
        ]
    )
    by_item = {d.item_id: d for d in merged}
    assert by_item["i"].weight == 3.0 and by_item["i"].count == 2
    assert by_item["i"].type_counts == {"view": 2, "click": 1}
    assert (by_item["i"].first_ts, by_item["i"].last_ts) == (T0 - 5, T0)
    assert len(merged) == 2


def test_merge_deltas_keeps_the_later_sender() -> None:
    first = replace(delta("u1", "a", ts=T0), client="c-browser")
    later = replace(delta("u1", "a", ts=T0 + 5), client="")
    (merged,) = merge_deltas([[first], [later]])
    assert merged.client == "" and merged.count == 2


def test_batches_queued_behind_a_write_share_the_next_one_and_all_apply(store: FalkorDBStore) -> None:
    held = HeldStore(store)
    committer = GroupCommitter(held)
    requests = [
        (
            [delta(f"u{k}", "shared", 1.0), delta(f"u{k}", f"own{k}", 2.0)],
            [EventKey(key=f"u{k}:e1", user_id=f"u{k}"), EventKey(key=f"u{k}:e2", user_id=f"u{k}")],
        )
        for k in range(16)
    ]
    deltas, events = requests[0]
    first = committer.submit(deltas, events=events, now_ms=T0)
    assert held.writing.wait(WAIT_S), "the first request was never written"
    queued = [committer.submit(deltas, events=events, now_ms=T0) for deltas, events in requests[1:]]
    assert not first.done() and not any(f.done() for f in queued)  # nobody is answered before its write
    held.release.set()
    results = [f.result(WAIT_S) for f in [first, *queued]]
    assert all(r.applied for r in results), results
    assert [r.edges for r in results] == [2] * 16
    assert store.counts().interactions == 32
    assert committer.writes == 2  # the first alone, then the fifteen that queued behind it in one write
    # Replaying every request at once: all refused as duplicates, nothing changes.
    again = run_concurrently(committer, requests)
    assert all(not r.applied and len(r.existing) == 2 for r in again)
    assert store.user_interactions(user_id="u3")[0].weight in (1.0, 2.0)
    assert sum(e.weight for e in store.user_interactions(user_id="u3")) == pytest.approx(3.0)


def test_a_conflicting_member_does_not_block_the_others(store: FalkorDBStore) -> None:
    store.upsert_users([UserRecord("nope", {"consent": False})])
    committer = GroupCommitter(store)
    committer.write([delta("a", "x")], events=[EventKey(key="a:old", user_id="a")], now_ms=T0)
    requests = [
        ([delta("a", "x")], [EventKey(key="a:old", user_id="a")]),  # duplicate
        ([delta("nope", "x")], [EventKey(key="nope:1", user_id="nope")]),  # consent withdrawn
    ] + [([delta(f"b{k}", "x")], [EventKey(key=f"b{k}:1", user_id=f"b{k}")]) for k in range(6)]
    results = run_concurrently(committer, requests)
    assert not results[0].applied and results[0].existing == ("a:old",)
    assert not results[1].applied and results[1].refused_users == ("nope",)
    assert all(r.applied for r in results[2:])
    assert store.user_interactions(user_id="a")[0].count == 1
    assert not store.user_interactions(user_id="nope")
    assert store.counts().interactions == 7


def test_same_event_key_in_two_concurrent_requests_applies_once(store: FalkorDBStore) -> None:
    committer = GroupCommitter(store)
    req = ([delta("u", "i", 1.0)], [EventKey(key="u:same", user_id="u")])
    results = run_concurrently(committer, [req, req, req])
    assert sum(r.applied for r in results) == 1
    assert store.user_interactions(user_id="u")[0].weight == 1.0


def test_a_poisoned_batch_fails_alone_not_the_batches_merged_with_it(store: FalkorDBStore) -> None:
    # Below the API's id rule a NUL byte reaches the store, which rejects the whole merged query;
    # the committer then writes each member on its own, so only the poisoned one fails.
    committer = GroupCommitter(store)
    requests = [([delta(f"g{k}", "x")], [EventKey(key=f"g{k}:1", user_id=f"g{k}")]) for k in range(7)]
    requests.insert(3, ([delta("bad\x00", "x")], [EventKey(key="bad\x00:1", user_id="bad\x00")]))
    results = run_concurrently(committer, requests)
    assert isinstance(results[3], Exception)
    good = results[:3] + results[4:]
    assert all(not isinstance(r, Exception) and r.applied for r in good), results
    assert store.counts().interactions == 7
