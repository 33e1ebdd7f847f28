"""The item-neighbour table a version keeps for thin histories (graphrec.model.item_neighbours).

What must hold: its candidates are ItemKNN-from-history's scores over the positive edges (a dislike is
no co-interaction), the seen items and the seeds left out, best first with ties by id; the evidence
names the seeds that lent the most; and the file round-trips to the same table. Any similarity a
request applies (shrinkage, asymmetry, locality) is the formula over the exact counts, and the tuner's
many-users scorer ranks as a request does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from graphrec.evaluation.baselines import ItemKNN
from graphrec.model.item_neighbours import ItemNeighbours, Similarity
from graphrec.snapshot import Snapshot
from model.graphs import block_snapshot


def _with_dislikes(snapshot: Snapshot) -> Snapshot:
    weights = snapshot.weights.copy()
    weights[::7] = -1.0  # every 7th edge becomes a dislike
    return Snapshot.from_coo(
        user_ids=snapshot.user_ids,
        item_ids=snapshot.item_ids,
        rows=snapshot.rows,
        cols=snapshot.indices,
        weights=weights,
        timestamps=snapshot.timestamps,
    )


def test_candidates_are_item_knn_from_history_over_liked_edges(tmp_path: Path) -> None:
    snap = _with_dislikes(block_snapshot(groups=3, users_per_group=15, items_per_group=10, seed=5))
    table = ItemNeighbours.fit(snap, neighbours=6, shrink=2.0)
    knn = ItemKNN(neighbours=6, shrink=2.0)
    knn.fit(snap.subset_edges(snap.weights > 0))
    plain = ItemKNN(neighbours=6, shrink=2.0)
    plain.fit(snap)  # counting dislikes as interactions gives other similarities
    assert not np.allclose(plain.similarity.toarray(), knn.similarity.toarray())
    lookup = {item: i for i, item in enumerate(snap.item_ids.tolist())}
    seeds = np.array([3, 12, 25])
    seen = np.array([3, 12, 25, 4])
    got = table.candidates(seeds, lookup.get, limit=8, exclude=seen)
    history = np.zeros((1, snap.n_items), dtype=np.float32)
    history[0, seeds] = 1.0
    want = knn.score_history(sp.csr_matrix(history))[0].astype(np.float64)
    want[seen] = 0.0
    order = np.lexsort((np.arange(snap.n_items), -want))
    order = order[want[order] > 0][:8]
    assert got.ids.tolist() == snap.item_ids[order].tolist()
    assert got.scores == pytest.approx(want[order], rel=1e-5)
    # evidence: the seeds with the largest similarity to the candidate, strongest first
    top = got.ids[0]
    sims = knn.similarity.toarray()[seeds, lookup[top]]
    np.testing.assert_allclose(table.similarity(seeds).toarray(), knn.similarity.toarray()[seeds], rtol=1e-5)
    strongest = [
        str(snap.item_ids[s])
        for s, v in sorted(zip(seeds.tolist(), sims.tolist(), strict=True), key=lambda t: -t[1])
        if v > 0
    ]
    assert list(got.evidence(top)) == strongest[:3]
    # the file is the same table
    table.save(tmp_path)
    loaded = ItemNeighbours.load(tmp_path)
    assert loaded is not None and (loaded.neighbours, loaded.shrink) == (6, 2.0)
    assert loaded.item_ids.tolist() == snap.item_ids.tolist()
    assert (loaded.counts != table.counts).nnz == 0 and loaded.degree.tolist() == table.degree.tolist()
    assert ItemNeighbours.load(tmp_path / "missing") is None


def test_no_known_seed_gives_no_candidates() -> None:
    snap = block_snapshot(groups=2, users_per_group=8, items_per_group=6, seed=1)
    table = ItemNeighbours.fit(snap, neighbours=4, shrink=0.0)
    got = table.candidates(np.zeros(0, dtype=np.int64), lambda _i: None, limit=5, exclude=np.zeros(0, dtype=np.int64))
    assert len(got) == 0 and got.evidence("i000") == ()


def test_a_request_can_apply_another_shrinkage() -> None:
    """The table keeps counts, so any shrinkage is ItemKNN's with that shrinkage (no entry pruned here)."""
    snap = block_snapshot(groups=3, users_per_group=15, items_per_group=10, seed=2)
    table = ItemNeighbours.fit(snap, neighbours=snap.n_items, shrink=1e6)
    counts = (snap.matrix("ones").T @ snap.matrix("ones")).toarray()
    stored = table.counts.toarray()
    assert np.array_equal(stored[stored > 0], counts[stored > 0])  # exact integers
    seeds = np.array([0, 11, 22])
    for shrink in (0.0, 3.0, 1e6):
        knn = ItemKNN(neighbours=snap.n_items, shrink=shrink)
        knn.fit(snap)
        np.testing.assert_allclose(
            table.similarity(seeds, Similarity(shrink)).toarray(), knn.similarity.toarray()[seeds], rtol=1e-5, atol=1e-9
        )
    wide, narrow = (
        table.candidates(
            seeds, lambda _i: None, limit=10, exclude=np.zeros(0, dtype=np.int64), similarity=Similarity(s)
        )
        for s in (0.0, 1e6)
    )
    assert wide.ids.tolist() != narrow.ids.tolist()  # raw counts favour popular items; the cosine does not


def _dense_similarity(snap: Snapshot, similarity: Similarity) -> np.ndarray:
    """The module docstring's formula, written out over dense counts of the liked edges."""
    x = snap.subset_edges(snap.weights > 0).matrix("ones").toarray().astype(np.float64)
    x[x > 0] = 1.0
    counts = x.T @ x
    np.fill_diagonal(counts, 0.0)
    degree = x.sum(0)
    a, h, q = similarity.asymmetry, similarity.shrink, similarity.locality
    return (counts / (np.outer(degree**a, degree ** (1 - a)) + h + 1e-12)) ** q


@pytest.mark.parametrize(
    "similarity",
    [Similarity(0.0, 1.0), Similarity(2.0, 0.8, 3.0), Similarity(0.0, 0.5, 2.0), Similarity(5.0, 0.0)],
    ids=str,
)
def test_any_similarity_is_the_formula_over_the_counts(similarity: Similarity) -> None:
    snap = _with_dislikes(block_snapshot(groups=3, users_per_group=15, items_per_group=10, seed=4))
    table = ItemNeighbours.fit(snap, neighbours=snap.n_items, shrink=0.0)  # nothing pruned
    want = _dense_similarity(snap, similarity)
    seeds = np.array([1, 14, 29])
    np.testing.assert_allclose(table.similarity(seeds, similarity).toarray(), want[seeds], rtol=1e-9, atol=1e-15)
    # a = 1, q = 1, no shrinkage: the share of the seed's likers who liked the candidate, P(j | s)
    if (similarity.asymmetry, similarity.locality, similarity.shrink) == (1.0, 1.0, 0.0):
        x = snap.subset_edges(snap.weights > 0).matrix("ones").toarray() > 0
        both = (x[:, seeds, None] & x[:, None, :]).sum(0) / x[:, seeds].sum(0)[:, None]
        both[np.arange(3), seeds] = 0.0
        np.testing.assert_allclose(table.similarity(seeds, similarity).toarray(), both, rtol=1e-9)


def test_the_cosine_similarity_is_the_tables_own_to_the_bit() -> None:
    snap = block_snapshot(groups=2, users_per_group=12, items_per_group=8, seed=3)
    table = ItemNeighbours.fit(snap, neighbours=5, shrink=4.0)
    seeds = np.array([0, 9])
    assert table.cosine == Similarity(4.0) and table.cosine.is_cosine and not Similarity(4.0, 0.7).is_cosine
    assert (table.similarity(seeds) != table.similarity(seeds, Similarity(4.0))).nnz == 0


def test_the_many_users_scorer_ranks_as_a_request_does() -> None:
    """ItemNeighbours.score_history (what the tuner scores every similarity with) sums what
    candidates() sums, for each row's items as seeds."""
    snap = block_snapshot(groups=3, users_per_group=15, items_per_group=10, seed=6)
    table = ItemNeighbours.fit(snap, neighbours=7, shrink=1.0)
    histories = [[0, 3], [12], [20, 21, 25], [4, 15, 26, 7]]
    fed = sp.csr_matrix(
        (
            np.ones(sum(map(len, histories))),
            (np.repeat(np.arange(len(histories)), [len(h) for h in histories]), np.concatenate(histories)),
        ),
        shape=(len(histories), snap.n_items),
    )
    similarity = Similarity(1.0, 0.9, 2.0)
    scores = table.score_history(fed, similarity)
    for row, seeds in enumerate(histories):
        got = table.candidates(
            np.array(seeds), lambda _i: None, limit=snap.n_items, exclude=np.zeros(0, np.int64), similarity=similarity
        )
        want = scores[row].copy()
        want[seeds] = 0.0
        order = np.lexsort((np.arange(snap.n_items), -want))
        order = order[want[order] > 0]
        assert got.ids.tolist() == snap.item_ids[order].tolist()
        np.testing.assert_allclose(got.scores, want[order], rtol=1e-12)


@pytest.mark.parametrize("bad", [{"shrink": -1.0}, {"shrink": 0.0, "asymmetry": 1.5}, {"shrink": 0.0, "locality": 0.0}])
def test_a_similarity_out_of_range_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="similarity needs"):
        Similarity(**bad)
