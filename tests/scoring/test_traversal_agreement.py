"""One traversal, everywhere: the store's Cypher (FalkorDB and Neo4j), the API's in-memory index, the
evaluation scorer and the saved Browser query 03 give the scores and evidence of the specification
(``traversal_spec.py``) on graphs with hubs, where every cap binds, and with dislikes (issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from saved_queries import QUERIES, by_name, example_params, parts
from scoring import traversal_spec as spec

from factories import delta
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.port import GraphStore
from graphrec.recommend.cograph import CoInteractionIndex
from graphrec.scoring.traversal import TraversalScorer, select_seeds

SEEDS, FANOUT, CO_ITEMS, HALF_LIFE_DAYS = 3, 4, 5, 1.0
H = int(HALF_LIFE_DAYS * spec.DAY_MS)
T0 = 1_700_000_000_000
WEIGHTS = np.array([-4.0, -1.5, 0.5, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0])  # dyadic: exact sums, real ties


def random_graph(seed: int, users: int = 24, items: int = 16) -> list[spec.Edge]:
    """Three hub items most users touch, the rest sparse; ages in whole half-lives (exact decay)."""
    rng = np.random.default_rng(seed)
    edges = []
    for u in range(users):
        touched = {i for i in range(3) if rng.random() < 0.8} | set(rng.choice(np.arange(3, items), 5, replace=False))
        for i in sorted(touched):
            edges.append((f"u{u:02d}", f"i{i:02d}", float(rng.choice(WEIGHTS)), T0 - int(rng.integers(0, 4)) * H))
    return edges


def expected(edges: list[spec.Edge], user: str) -> list[tuple[str, float, tuple[str, ...]]]:
    return spec.user_candidates(
        edges, user, seeds=SEEDS, fanout=FANOUT, co_items=CO_ITEMS, half_life_days=HALF_LIFE_DAYS, limit=1000
    )


def assert_same(
    got: list[tuple[str, float, tuple[str, ...]]],
    want: list[tuple[str, float, tuple[str, ...]]],
    where: str,
    *,
    evidence: bool = True,
) -> None:
    assert [c for c, _, _ in got] == [c for c, _, _ in want], where
    np.testing.assert_allclose([s for _, s, _ in got], [s for _, s, _ in want], rtol=1e-9, err_msg=where)
    if evidence:
        assert [e for _, _, e in got] == [e for _, _, e in want], where


def in_memory(edges: list[spec.Edge], user: str) -> list[tuple[str, float, tuple[str, ...]]]:
    index = CoInteractionIndex.from_arrays(
        np.array([e[0] for e in edges]),
        np.array([e[1] for e in edges]),
        np.array([e[2] for e in edges]),
        fanout=FANOUT,
        co_items=CO_ITEMS,
    )
    mine = [e for e in edges if e[0] == user]
    pos, weights = select_seeds(
        np.array([e[1] for e in mine]),
        np.array([e[2] for e in mine]),
        np.array([e[3] for e in mine]),
        seed_items=SEEDS,
        half_life_days=HALF_LIFE_DAYS,
    )
    got = index.candidates_for_user(
        seeds=[(mine[p][1], w) for p, w in zip(pos, weights, strict=True)], limit=1000, exclude=[e[1] for e in mine]
    )
    return [(c, float(s), got.evidence(c)) for c, s in zip(got.ids.tolist(), got.scores, strict=True)]


def evaluation_scorer(edges: list[spec.Edge]) -> tuple[TraversalScorer, list[str], list[str]]:
    users = sorted({e[0] for e in edges})
    items = sorted({e[1] for e in edges})
    rows = [users.index(e[0]) for e in edges]
    cols = [items.index(e[1]) for e in edges]
    shape = (len(users), len(items))
    weights = sp.csr_matrix(([e[2] for e in edges], (rows, cols)), shape=shape)
    stamps = sp.csr_matrix(([e[3] for e in edges], (rows, cols)), shape=shape, dtype=np.int64)
    return (
        TraversalScorer(
            weights, stamps, half_life_days=HALF_LIFE_DAYS, seed_items=SEEDS, fanout=FANOUT, co_items=CO_ITEMS
        ),
        users,
        items,
    )


def test_the_caps_bind_and_every_python_implementation_matches_the_spec() -> None:
    for seed in range(4):
        edges = random_graph(seed)
        likers = {i: sum(1 for e in edges if e[1] == i and e[2] > 0) for i in {e[1] for e in edges}}
        assert max(likers.values()) > FANOUT  # hubs: the co-user cap binds
        assert any(sum(1 for e in edges if e[0] == u) > FANOUT for u in {e[0] for e in edges})
        scorer, users, items = evaluation_scorer(edges)
        scores = scorer.score(np.arange(len(users)))
        checked = 0
        for row, user in enumerate(users):
            want = expected(edges, user)
            assert_same(in_memory(edges, user), want, f"in-memory index, graph {seed}, {user}")
            finite = np.flatnonzero(np.isfinite(scores[row]))
            order = finite[np.lexsort((finite, -scores[row][finite].astype(np.float64)))]
            got = [(items[i], float(scores[row][i]), ()) for i in order]
            assert [c for c, _, _ in got] == [c for c, _, _ in want], f"evaluation scorer, {seed}, {user}"
            np.testing.assert_allclose([s for _, s, _ in got], [s for _, s, _ in want], rtol=1e-6)  # float32 out
            checked += len(want)
        assert checked > 50  # candidates compared in this graph


@pytest.fixture
def store(any_store: GraphStore) -> GraphStore:
    return any_store


def _saved_query(store: GraphStore, user: str, item: str) -> list[dict[str, object]]:
    folder = QUERIES if isinstance(store, Neo4jStore) else QUERIES / "falkordb"
    path = by_name("why-recommended") if isinstance(store, Neo4jStore) else folder / "03-why-recommended.cypher"
    _, _, query = parts(Path(path))
    result = store.run_cypher(
        query.rstrip().rstrip(";"),
        example_params(Path(path))
        | {
            "user": user,
            "item": item,
            "seeds": SEEDS,
            "fanout": FANOUT,
            "co_items": CO_ITEMS,
            "half_life_days": HALF_LIFE_DAYS,
        },
    )
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def test_the_store_traversal_and_saved_query_03_match_the_spec(store: GraphStore) -> None:
    for seed in (0, 1):
        store.clear()
        edges = random_graph(seed)
        store.upsert_interactions([delta(u, i, w, ts=ts) for u, i, w, ts in edges])
        for user in sorted({e[0] for e in edges}):
            want = expected(edges, user)
            newest = max(e[3] for e in edges if e[0] == user)
            got = store.co_interaction_candidates_for_user(
                user_id=user,
                limit=1000,
                seed_items=SEEDS,
                fanout=FANOUT,
                co_items=CO_ITEMS,
                now_ms=newest,
                half_life_days=HALF_LIFE_DAYS,
            )
            assert_same([(c.item_id, c.score, c.evidence) for c in got], want, f"{type(store).__name__} {user}")
        for user in ("u00", "u05", "u11"):  # the analyst's query, item by item
            for rank, (item, score, evidence) in enumerate(expected(edges, user)[:4], start=1):
                rows = _saved_query(store, user, item)
                assert rows, f"03 finds no path for {user}/{item}"
                assert float(rows[0]["score"]) == pytest.approx(score, rel=1e-5)
                assert tuple(rows[0]["evidence"]) == evidence
                assert rows[0]["rank"] == rank and rows[0]["candidates"] == len(expected(edges, user))


def test_dislikes_are_negative_evidence_not_positive(store: GraphStore) -> None:
    """The -x- case: a disliked seed propagates nothing (it once made -2.79 x -1.5 the top path), a
    co-user's dislike lowers a candidate, and dislikes are no degree."""
    store.clear()
    edges: list[spec.Edge] = [
        ("me", "liked", 2.0, T0),
        ("me", "hated", -3.0, T0),
        ("a", "liked", 1.0, T0),
        ("a", "good", 2.0, T0),
        ("a", "meh", 1.0, T0),
        ("b", "liked", 1.0, T0),
        ("b", "meh", -4.0, T0),
        ("c", "hated", 1.0, T0),
        ("c", "via-hate", 5.0, T0),  # reachable only through the disliked seed
        ("d", "hated", -2.0, T0),
        ("d", "via-hate", -1.5, T0),  # -x-: two negatives must not make a positive
    ]
    store.upsert_interactions([delta(u, i, w, ts=ts) for u, i, w, ts in edges])
    want = expected(edges, "me")
    assert [c for c, _, _ in want] == ["good"]  # meh: 1 - 4 < 0; nothing through "hated"
    got = store.co_interaction_candidates_for_user(
        user_id="me",
        limit=10,
        seed_items=SEEDS,
        fanout=FANOUT,
        co_items=CO_ITEMS,
        now_ms=T0,
        half_life_days=HALF_LIFE_DAYS,
    )
    assert_same([(c.item_id, c.score, c.evidence) for c in got], want, "store")
    assert_same(in_memory(edges, "me"), want, "in-memory index")
    degree = store.run_cypher("MATCH (i:Item) RETURN i.id, i.degree ORDER BY i.id").rows
    assert {r[0]: r[1] for r in degree} == {"good": 1, "hated": 1, "liked": 3, "meh": 1, "via-hate": 1}


def test_shifting_the_data_set_by_20_years_changes_no_ranking(store: GraphStore) -> None:
    """Decay is measured from each user's newest edge: an old data set ranks like the same data today
    (ML-100K, from 1997, used to decay every weight to 0 and every ranking to a tie)."""
    shift = 20 * 365 * spec.DAY_MS
    edges = random_graph(5)
    results = []
    for offset in (-shift, 0):
        store.clear()
        moved = [(u, i, w, ts + offset) for u, i, w, ts in edges]
        store.upsert_interactions([delta(u, i, w, ts=ts) for u, i, w, ts in moved])
        per_user = {}
        for user in sorted({e[0] for e in moved}):
            mine = [e for e in moved if e[0] == user]
            got = store.co_interaction_candidates_for_user(
                user_id=user,
                limit=50,
                seed_items=SEEDS,
                fanout=FANOUT,
                co_items=CO_ITEMS,
                now_ms=max(e[3] for e in mine),
                half_life_days=HALF_LIFE_DAYS,
            )
            per_user[user] = ([c.item_id for c in got], [c.score for c in got], in_memory(moved, user))
        results.append(per_user)
    old, today = results
    assert any(ids for ids, _, _ in today.values())
    for user, (ids, scores, memory) in today.items():
        assert old[user][0] == ids and old[user][2] == memory, user
        np.testing.assert_allclose(old[user][1], scores, rtol=1e-12)
