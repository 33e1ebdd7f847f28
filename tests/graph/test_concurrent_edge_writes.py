"""Concurrent writers on the same users and items: one edge per (user, item), no delta lost.

Why: Neo4j's delta write reads a user's existing edges once per batch and CREATEs the missing ones
(``graphrec.graph.cypher.neo4j``), instead of a MERGE per row; that is correct only because it takes
the user's write lock before reading. Here several threads write overlapping batches at once, onto
pairs that do not exist yet (every writer races to create the same edges) and then onto existing ones,
through the unguarded, the guarded and the exactly-once writes; afterwards every pair has exactly one
edge whose aggregates are the sum of everything written, and the degrees count the positive edges.
FalkorDB runs one query at a time; it is held to the same outcome.

Amounts are multiples of 1/4, so sums are exact in any order.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from factories import T0
from graphrec.graph.base_store import CypherStore
from graphrec.graph.edge_combination import fold
from graphrec.graph.port import EventKey
from graphrec.graph.records import BatchGuard, InteractionDelta

USERS = tuple(f"u{k}" for k in range(4))
ITEMS = tuple(f"i{k}" for k in range(30))
WRITERS = 6
BATCHES = 12  # per writer
CAP = 50.0  # one cap for all: the last writer's cap is then the same whoever wrote last
# Every writer's batch k names the same slice of new pairs (all writers race to create each edge at
# once) plus a few pairs of earlier slices (edges that exist by then, to be added onto).
PAIRS = random.Random(0).sample([(u, i) for u in USERS for i in ITEMS], len(USERS) * len(ITEMS))
SLICE = len(PAIRS) // BATCHES


def _batches(seed: int) -> list[list[InteractionDelta]]:
    rng = random.Random(seed)
    out = []
    for k in range(BATCHES):
        earlier = PAIRS[: k * SLICE]
        chosen = PAIRS[k * SLICE : (k + 1) * SLICE] + rng.sample(earlier, min(len(earlier), 6))
        out.append(
            [
                InteractionDelta(
                    u,
                    i,
                    rng.randint(-8, 8) / 4,  # sums wander across zero: degrees move both ways
                    1,
                    T0 + rng.randint(0, 1000),
                    T0 + 1000 + rng.randint(0, 1000),
                    {"click": 1},
                    {},
                    f"w{seed}",
                    CAP,
                )
                for u, i in sorted(chosen)
            ]
        )
    return out


def _write_all(store: CypherStore, writer: int, batches: list[list[InteractionDelta]], start: threading.Barrier) -> int:
    start.wait(timeout=60)
    guarded = 0  # the writer's ledger expects its guarded batches numbered 0, 1, 2, ...
    for k, batch in enumerate(batches):
        way = (writer + k) % 3
        if way == 0:
            store.upsert_interactions(batch)
        elif way == 1:
            assert store.upsert_interactions(batch, guard=BatchGuard(f"ledger-{writer}", guarded)) == len(batch)
            guarded += 1
        else:
            events = [EventKey(key=f"w{writer}-b{k}-{d.user_id}-{d.item_id}", user_id=d.user_id) for d in batch]
            assert store.upsert_interactions_once(batch, events=events, now_ms=T0).applied
    return len(batches)


@pytest.mark.parametrize("seed", [0, 100])  # two races: the store without its lock failed 3 of 4 single ones
def test_concurrent_writers_leave_one_edge_per_pair_with_every_delta(any_store: CypherStore, seed: int) -> None:
    store = any_store
    per_writer = [_batches(seed + w) for w in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    with ThreadPoolExecutor(WRITERS) as pool:
        futures = [pool.submit(_write_all, store, w, batches, start) for w, batches in enumerate(per_writer)]
        assert [f.result(timeout=300) for f in futures] == [BATCHES] * WRITERS  # a writer's failure fails here

    rows = store._read(  # noqa: SLF001 - every edge, duplicates included
        "MATCH (u:User)-[e:INTERACTED]->(i:Item) "
        "RETURN u.id, i.id, e.raw_weight, e.count, e.first_ts, e.last_ts, e.n_click, e.weight_cap, e.client"
    )
    pairs = [(u, i) for u, i, *_ in rows]
    assert len(pairs) == len(set(pairs)), "a pair has more than one edge"
    expected = {(d.user_id, d.item_id): d for d in fold(d for b in per_writer for batch in b for d in batch)}
    assert set(pairs) == set(expected)
    for u, i, raw, count, first, last, clicks, cap, client in rows:
        want = expected[(u, i)]
        assert (raw, count, first, last, clicks, cap) == (
            want.weight,
            want.count,
            want.first_ts,
            want.last_ts,
            want.count,
            CAP,
        ), (u, i)
        assert client in {f"w{seed + w}" for w in range(WRITERS)}
    liked = [pair for pair, d in expected.items() if d.weight > 0]
    assert 0 < len(liked) < len(expected)  # some sums ended at or below zero: degrees had to move back
    degrees = dict(
        store._read(  # noqa: SLF001
            "MATCH (n) WHERE n:User OR n:Item RETURN n.id, n.degree"
        )
    )
    assert degrees == {u: sum(pu == u for pu, _ in liked) for u in USERS} | {
        i: sum(pi == i for _, pi in liked) for i in ITEMS
    }
