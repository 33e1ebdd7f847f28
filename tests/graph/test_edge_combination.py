"""The edge rule has one meaning: the Python fold, the table it spells out, and the stores' Cypher.

``graphrec.graph.edge_combination`` states how deltas combine into an edge (``EDGE_RULE``,
``PER_TYPE_RULE``, the saturated ``weight``); :func:`fold` is its Python (the ingest pipeline's
``aggregate`` and group commit's ``merge_deltas``), ``statements.merge_edge`` its Cypher. The unit
tests hold the fold to the table property by property; the integration test writes one seeded random
sequence of delta batches (the same pairs again and again, weights crossing zero and the caps, some
deltas naming a cap and some not, some batches merged as group commit merges them) through each
store (the embedded FalkorDB sends ``merge_edge``'s MERGE; Neo4j its per-user form of the same rule,
``graphrec.graph.cypher.neo4j``) and compares every edge, and every degree, with the fold.

Amounts are multiples of 1/4, so every sum is exact in any order and the comparison is equality.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import replace

from factories import T0, delta
from graphrec.event_types import COUNT_PROPS, EVENT_TYPES, SUM_PROPS, VALUED_TYPES
from graphrec.events.group_commit import merge_deltas
from graphrec.graph.base_store import CypherStore
from graphrec.graph.cypher.statements import COMBINE_CYPHER, Aggregates
from graphrec.graph.edge_combination import APPLY, EDGE_RULE, PER_TYPE_RULE, Combine, fold, saturate, stored_as
from graphrec.graph.port import EventKey
from graphrec.graph.records import InteractionDelta

USERS = ("u0", "u1", "u2")
ITEMS = ("a", "b", "c", "d")
CLIENTS = ("", "c-browser", "c-other")
CAPS = (None, None, 2.5, 4.0, 6.0)  # most deltas name one; a delta naming none keeps the edge's


def _random_delta(rng: random.Random, user: str, item: str) -> InteractionDelta:
    first = T0 + rng.randint(0, 10_000)
    types = rng.sample(EVENT_TYPES, rng.randint(1, 3))
    return InteractionDelta(
        user_id=user,
        item_id=item,
        weight=rng.randint(-12, 16) / 4,  # negative too: an edge's weight crosses zero, degrees move
        count=rng.randint(1, 4),
        first_ts=first,
        last_ts=first + rng.randint(0, 5_000),
        type_counts={t: rng.randint(1, 3) for t in types},
        value_sums={t: rng.randint(0, 400) / 4 for t in types if t in VALUED_TYPES},
        client=rng.choice(CLIENTS),
        weight_cap=None if user == "u2" else rng.choice(CAPS),  # u2's edges never get a cap
    )


def _random_batches(seed: int, n: int) -> list[list[InteractionDelta]]:
    """``n`` batches over a few users and items, each naming a pair at most once (the port's rule)."""
    rng = random.Random(seed)
    pairs = [(u, i) for u in USERS for i in ITEMS]
    return [[_random_delta(rng, u, i) for u, i in rng.sample(pairs, rng.randint(1, 6))] for _ in range(n)]


def _as_props(d: InteractionDelta) -> dict[str, object]:
    """A folded delta as the edge properties a store holds for it (absent per-type keys, and a cap never
    named: no property), with the derived ``weight``."""
    props: dict[str, object] = {stored_as(p): getattr(d, p) for p in EDGE_RULE if getattr(d, p) is not None}
    props["weight"] = saturate(d.weight, d.weight_cap)
    props.update({f"n_{t}": n for t, n in d.type_counts.items()})
    props.update({f"s_{t}": v for t, v in d.value_sums.items()})
    return props


# -- the Python fold against the table ------------------------------------------------------------


def test_each_property_of_the_table_combines_as_the_table_says() -> None:
    old = delta("u", "i", 1.5, ts=T0, last_ts=T0 + 10, types={"view": 2}, sums={"dwell": 4.0}, count=2)
    old = replace(old, client="c-old", weight_cap=3.0)
    new = delta("u", "i", -0.5, ts=T0 - 5, last_ts=T0 + 20, types={"view": 1, "click": 1}, sums={"dwell": 1.0})
    new = replace(new, client="c-new", weight_cap=2.0)
    (both,) = fold([old, new])
    for prop, how in EDGE_RULE.items():
        assert getattr(both, prop) == APPLY[how](getattr(old, prop), getattr(new, prop)), prop
    # per type: both have it: combined; only one has it: that one's value stands
    assert both.type_counts == {"view": APPLY[PER_TYPE_RULE](2, 1), "click": 1}
    assert both.value_sums == {"dwell": APPLY[PER_TYPE_RULE](4.0, 1.0)}
    # the inputs are left as they were (their maps are copied before anything is added)
    assert old.type_counts == {"view": 2} and new.type_counts == {"view": 1, "click": 1}


def test_combination_kinds_mean_what_their_names_say() -> None:
    assert APPLY[Combine.ADD](2, 3) == 5
    assert APPLY[Combine.EARLIEST](2, 3) == 2 and APPLY[Combine.EARLIEST](3, 2) == 2
    assert APPLY[Combine.LATEST](2, 3) == 3 and APPLY[Combine.LATEST](3, 2) == 3
    assert APPLY[Combine.LAST_WRITE]("old", "new") == "new"
    assert APPLY[Combine.LAST_WRITE]("old", None) == "old"  # a delta without one leaves the edge's (Cypher's coalesce)


def test_a_delta_without_a_cap_keeps_the_edge_s_cap() -> None:
    capped = replace(delta("u", "i", 3.0), weight_cap=4.0)
    (both,) = fold([capped, delta("u", "i", 2.0)])
    assert (both.weight, both.weight_cap) == (5.0, 4.0)  # the raw sum; its saturated weight is 4.0


def test_saturation_clamps_the_raw_sum_both_ways_and_keeps_its_sign() -> None:
    assert [saturate(w, 20.0) for w in (300.0, 20.0, 7.5, 0.0, -3.0, -21.0)] == [20.0, 20.0, 7.5, 0.0, -3.0, -20.0]
    assert saturate(300.0, None) == 300.0  # no cap named: the raw sum


def test_saturation_does_not_depend_on_where_batches_were_cut() -> None:
    # why the cap applies to the raw sum: a clamp of the running weight would leave an edge at its cap
    # plus a dislike at 16, the same deltas folded first at 20 - the rule keeps the sum and clamps it
    deltas = [replace(delta("u", "i", w), weight_cap=20.0) for w in (15.0, 10.0, -4.0)]
    (whole,) = fold(deltas)
    (cut,) = fold([*fold(deltas[:2]), *fold(deltas[2:])])
    assert whole.weight == cut.weight == 21.0 and saturate(whole.weight, whole.weight_cap) == 20.0


def test_every_property_has_a_delta_field_a_cypher_source_and_both_renderings() -> None:
    delta_fields = {f.name for f in dataclasses.fields(InteractionDelta)}
    assert set(EDGE_RULE) <= delta_fields
    assert [f.name for f in dataclasses.fields(Aggregates)] == [*EDGE_RULE, "per_type"]
    assert stored_as("weight") not in EDGE_RULE and stored_as("weight") != "weight"  # weight is derived
    assert set(APPLY) == set(COMBINE_CYPHER) == set(Combine)
    assert {p[2:] for p in COUNT_PROPS} == set(EVENT_TYPES) and {p[2:] for p in SUM_PROPS} == set(VALUED_TYPES)


def test_a_fold_does_not_depend_on_where_batches_were_cut() -> None:
    # Group commit folds batches that the pipeline folded from events: any cut, the same edges.
    deltas = [d for batch in _random_batches(seed=7, n=12) for d in batch]
    whole = fold(deltas)
    for cut in (1, 5, len(deltas) // 2, len(deltas) - 1):
        assert fold([*fold(deltas[:cut]), *fold(deltas[cut:])]) == whole
    assert merge_deltas([deltas[:3], deltas[3:]]) == whole


def test_a_pair_seen_once_comes_back_as_it_was_sent() -> None:
    only = delta("u", "i", 2.0)
    assert fold([only]) == [only] and fold([only])[0] is only


# -- the Python fold against the store's Cypher ---------------------------------------------------


def _writes(store: CypherStore, batches: list[list[InteractionDelta]]) -> Iterator[str]:
    """Each batch through one of the store's three delta writes, in turn; every third pair of batches
    merged first, as group commit merges batches queued together. Yields which write it used."""
    keys = iter(range(1_000_000))
    k = 0
    while k < len(batches):
        way = k % 4
        if way == 3 and k + 1 < len(batches):
            merged = merge_deltas([batches[k], batches[k + 1]])
            events = [EventKey(key=f"e{next(keys)}", user_id=d.user_id) for d in merged]
            assert store.upsert_interactions_once(merged, events=events, now_ms=T0).applied
            k += 2
            yield "group commit"
            continue
        batch = batches[k]
        if way == 0:
            store.upsert_interactions(batch)
            yield "upsert_interactions"
        else:
            events = [EventKey(key=f"e{next(keys)}", user_id=d.user_id) for d in batch]
            assert store.upsert_interactions_once(batch, events=events, now_ms=T0).applied
            yield "upsert_interactions_once"
        k += 1


def test_the_store_combines_deltas_exactly_as_the_python_rule(any_store: CypherStore) -> None:
    store = any_store
    batches = _random_batches(seed=26, n=30)
    ways = list(_writes(store, batches))
    assert set(ways) == {"upsert_interactions", "upsert_interactions_once", "group commit"}

    expected = {(d.user_id, d.item_id): _as_props(d) for d in fold(d for batch in batches for d in batch)}
    stored = {
        (u, i): props
        for u, i, props in store._read(  # noqa: SLF001 - every edge property, the sender included
            "MATCH (u:User)-[e:INTERACTED]->(i:Item) RETURN u.id, i.id, properties(e) ORDER BY u.id, i.id"
        )
    }
    assert len(expected) > len(batches) // 3  # the same pairs were written again and again
    assert stored == expected
    # the caps bit: some edges' sums went past their cap, and others never had one
    assert any(p["weight"] != p["raw_weight"] for p in expected.values())
    assert any("weight_cap" not in p for p in expected.values())

    # Degrees: each endpoint's edges with a positive weight (some edges ended at or below zero).
    positive = [pair for pair, props in expected.items() if props["weight"] > 0]  # type: ignore[operator]
    assert 0 < len(positive) < len(expected)
    want = {("User", u): sum(pu == u for pu, _ in positive) for u in USERS}
    want |= {("Item", i): sum(pi == i for _, pi in positive) for i in ITEMS}
    got = {
        (label, node_id): degree
        for label, node_id, degree in store._read(  # noqa: SLF001
            "MATCH (n) WHERE n:User OR n:Item RETURN labels(n)[0], n.id, n.degree"
        )
    }
    assert got == want
