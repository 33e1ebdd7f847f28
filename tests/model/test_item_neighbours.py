"""The item-neighbour table a version keeps for thin histories (graphrec.model.item_neighbours).

What must hold: its candidates are ItemKNN-from-history's scores over the positive edges (a dislike is
no co-interaction), the seen items and the seeds left out, best first with ties by id; the evidence
names the seeds that lent the most; and the file round-trips to the same table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from graphrec.evaluation.baselines import ItemKNN
from graphrec.model.item_neighbours import ItemNeighbours
from graphrec.snapshot import Snapshot
from model.graphs import block_snapshot


def _with_dislikes(snapshot: Snapshot) -> Snapshot:
    weights = snapshot.weights.copy()
    weights[::7] = -1.0  # every 7th edge becomes a dislike
    return Snapshot.from_coo(user_ids=snapshot.user_ids, item_ids=snapshot.item_ids, rows=snapshot.rows,
                             cols=snapshot.indices, weights=weights, timestamps=snapshot.timestamps)


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
    strongest = [str(snap.item_ids[s]) for s, v in sorted(zip(seeds.tolist(), sims.tolist(), strict=True),
                                                          key=lambda t: -t[1]) if v > 0]
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
        np.testing.assert_allclose(table.similarity(seeds, shrink).toarray(), knn.similarity.toarray()[seeds],
                                   rtol=1e-5, atol=1e-9)
    wide, narrow = (table.candidates(seeds, lambda _i: None, limit=10, exclude=np.zeros(0, dtype=np.int64), shrink=s)
                    for s in (0.0, 1e6))
    assert wide.ids.tolist() != narrow.ids.tolist()  # raw counts favour popular items; the cosine does not
