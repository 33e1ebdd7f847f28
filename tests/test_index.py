"""ItemIndex: exact search is a brute-force top-k; IVF recalls it well; files round-trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphrec.index import ItemIndex


def _clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, d))
    return (centres[rng.integers(0, 40, n)] + 0.5 * rng.normal(size=(n, d))).astype(np.float32)


def test_exact_index_equals_brute_force() -> None:
    items = _clustered(500, 16)
    queries = _clustered(20, 16, seed=1)
    index = ItemIndex.build(items)
    assert index.exact
    idx, scores = index.search(queries, 10)
    ref = np.argsort(-(queries @ items.T), axis=1)[:, :10]
    assert np.array_equal(idx, ref)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ items.T, ref, axis=1), rtol=1e-5)


def test_ivf_recall_against_exact() -> None:
    items = _clustered(20_000, 32)
    queries = _clustered(100, 32, seed=2)
    index = ItemIndex.build(items, exact_below=1_000, seed=0)
    assert not index.exact and len(index.centroids) > 100
    exact, _ = index.search_exact(queries, 20)
    approx, _ = index.search(queries, 20, nprobe=24)
    recall = np.mean([len(np.intersect1d(a, e)) / 20 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.9, recall


def test_exclude_and_round_trip(tmp_path: Path) -> None:
    items = _clustered(3_000, 8)
    index = ItemIndex.build(items, metric="cosine", exact_below=1_000)
    q = items[:2]
    first, _ = index.search(q, 5, nprobe=8)
    excluded, _ = index.search(q, 5, nprobe=8, exclude=[first[0][:2], np.array([], np.int64)])
    assert not np.isin(first[0][:2], excluded[0]).any()
    assert np.array_equal(excluded[1], first[1])
    loaded = ItemIndex.load(index.save(tmp_path / "index"))
    again, _ = loaded.search(q, 5, nprobe=8)
    assert np.array_equal(again, first)
