"""Export from the real embedded store: id maps, CSR, decay, categories, filters, file round-trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from factories import DAY_MS, T0, delta
from graphrec.export import ExportConfig, export_snapshot
from graphrec.graph.port import GraphStore
from graphrec.graph.records import ItemRecord
from graphrec.snapshot import Snapshot

EDGES = [  # user, item, weight, last_ts
    ("alice", "m1", 2.0, T0),
    ("alice", "m2", 1.0, T0 - 30 * DAY_MS),
    ("bob", "m1", 1.0, T0),
    ("bob", "m3", 4.0, T0 - 60 * DAY_MS),
    ("carol", "m2", 1.0, T0),
    ("carol", "m3", 1.0, T0),
    ("dave", "m4", 1.0, T0),
]


@pytest.fixture
def store(any_store: GraphStore) -> GraphStore:
    """Both stores, each a live server: this is part of the adapter contract."""
    return any_store


def _fill(store: GraphStore) -> None:
    store.upsert_items(
        [
            ItemRecord(id="m1", title="One", categories=("drama",)),
            ItemRecord(id="m2", title="Two", categories=("comedy", "drama")),
            ItemRecord(id="m3", title="Three", categories=("horror",)),
            ItemRecord(id="m4", title="Four", categories=()),
        ]
    )
    store.upsert_interactions([delta(u, i, w, ts=ts) for u, i, w, ts in EDGES])


def test_export_round_trip(store: GraphStore, tmp_path: Path) -> None:
    _fill(store)
    cfg = ExportConfig(page_size=100, now_ms=T0)
    snap = export_snapshot(store, cfg, half_life_days=30.0, progress=False)
    assert snap.user_ids.tolist() == ["alice", "bob", "carol", "dave"]
    assert snap.item_ids.tolist() == ["m1", "m2", "m3", "m4"]
    dense = snap.matrix("weights").toarray()
    expected = np.zeros((4, 4))
    for u, i, w, ts in EDGES:
        expected[snap.user_ids.tolist().index(u), snap.item_ids.tolist().index(i)] = w * 0.5 ** (
            (T0 - ts) / (30 * DAY_MS)
        )
    np.testing.assert_allclose(dense, expected, rtol=1e-6)
    assert snap.matrix("timestamps")[1, 2] == T0 - 60 * DAY_MS
    assert snap.category_names.tolist() == ["comedy", "drama", "horror"]
    assert snap.item_category_matrix().toarray().tolist() == [[0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert snap.titles.tolist() == ["One", "Two", "Three", "Four"]  # what the content features read
    loaded = Snapshot.load(snap.save(tmp_path / "snap"))
    assert loaded.content_hash() == snap.manifest["content_hash"]
    assert loaded.titles.tolist() == snap.titles.tolist()
    np.testing.assert_array_equal(loaded.indices, snap.indices)
    assert list(loaded.user_ids) == list(snap.user_ids)
    # same graph, smaller pages: same arrays, same hash
    again = export_snapshot(store, ExportConfig(page_size=100, now_ms=T0), half_life_days=30.0, progress=False)
    assert again.manifest["content_hash"] == snap.manifest["content_hash"]
    (tmp_path / "snap" / "weights.npy").write_bytes(
        (tmp_path / "snap" / "weights.npy").read_bytes()[:-4] + np.float32(9).tobytes()
    )
    with pytest.raises(ValueError, match="content hash"):
        Snapshot.load(tmp_path / "snap")


def test_export_filters(store: GraphStore) -> None:
    _fill(store)
    base = {"page_size": 100, "now_ms": T0}
    window = export_snapshot(store, ExportConfig(since_ms=T0 - DAY_MS, **base), half_life_days=30.0, progress=False)
    assert window.n_edges == 5 and "m3" in window.item_ids  # carol's m3 is recent
    drama = export_snapshot(store, ExportConfig(categories=["drama"], **base), half_life_days=30.0, progress=False)
    assert drama.item_ids.tolist() == ["m1", "m2"] and drama.user_ids.tolist() == ["alice", "bob", "carol"]
    assert drama.titles.tolist() == ["One", "Two"]
    core = export_snapshot(
        store,
        ExportConfig(min_user_degree=2, min_item_degree=2, k_core=True, **base),
        half_life_days=30.0,
        progress=False,
    )
    assert core.user_ids.tolist() == ["alice", "bob", "carol"] and core.item_ids.tolist() == ["m1", "m2", "m3"]
    sampled = export_snapshot(
        store, ExportConfig(max_users=2, sampling="rwr", seed=1, **base), half_life_days=30.0, progress=False
    )
    assert sampled.n_users == 2
    rand = export_snapshot(
        store, ExportConfig(max_users=3, sampling="random", seed=1, **base), half_life_days=30.0, progress=False
    )
    assert rand.n_users == 3


def test_non_positive_edges_are_not_training_positives(store: GraphStore) -> None:
    store.upsert_interactions([delta("erin", "m1", 1.0), delta("erin", "m2", -2.0), delta("fay", "m2", 1.0)])
    snap = export_snapshot(store, ExportConfig(now_ms=T0), half_life_days=30.0, progress=False)
    assert snap.n_edges == 2 and float(snap.weights.min()) > 0
    assert not snap.has_titles  # items only events created: no catalogue row, no title (and an old-format file)
    everything = export_snapshot(store, ExportConfig(now_ms=T0, min_weight=None), half_life_days=30.0, progress=False)
    assert everything.n_edges == 3


def test_snapshot_as_pyg_hetero_data(store: GraphStore, tmp_path: Path) -> None:
    import torch
    from torch_geometric.nn import SAGEConv

    _fill(store)
    snap = export_snapshot(store, ExportConfig(page_size=100, now_ms=T0), half_life_days=30.0, progress=False)
    data = snap.to_hetero_data()
    data.validate()
    assert data["user"].num_nodes == 4 and data["item"].num_nodes == 4
    assert data["user"].external_id == ["alice", "bob", "carol", "dave"]
    edges = data["user", "interacted", "item"]
    pairs = {(data["user"].external_id[u], data["item"].external_id[i]) for u, i in edges.edge_index.T.tolist()}
    assert pairs == {(u, i) for u, i, _, _ in EDGES}
    dense = snap.matrix("weights").toarray()
    np.testing.assert_allclose(edges.edge_weight.numpy(), dense[edges.edge_index[0], edges.edge_index[1]])
    assert edges.edge_time.dtype == torch.int64 and int(edges.edge_time.max()) == T0
    back = data["item", "rev_interacted", "user"]
    assert torch.equal(back.edge_index, edges.edge_index.flip(0))
    assert data["item"].x.tolist() == [[0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]]
    # usable as it is by PyG layers: one bipartite SAGE step from items to users
    out = SAGEConv((3, 2), 5)((data["item"].x, torch.ones(4, 2)), back.edge_index)
    assert out.shape == (4, 5)
    assert "rev_interacted" not in str(snap.to_hetero_data(reverse=False).edge_types)


@pytest.mark.integration  # the CLI's embedded store
def test_export_command_writes_the_pyg_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from typer.testing import CliRunner

    from graphrec.cli import app
    from graphrec.graph.falkordb_store import FalkorDBStore

    monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"embedded:{tmp_path / 'store'}")
    store = FalkorDBStore.embedded(tmp_path / "store")
    try:
        _fill(store)
    finally:
        store.close()
    result = CliRunner().invoke(app, ["export", "-o", str(tmp_path / "snap"), "--pyg", str(tmp_path / "g.pt")])
    assert result.exit_code == 0, result.output
    data = torch.load(tmp_path / "g.pt", weights_only=False)
    assert data["user", "interacted", "item"].edge_index.shape == (2, len(EDGES))
    assert Snapshot.load(tmp_path / "snap").n_edges == len(EDGES)


def test_an_old_data_set_exports_like_the_same_data_today(store: GraphStore) -> None:
    """Decay is measured from the newest exported edge: 1997 data (ML-100K's age) keeps non-zero
    weights, identical to the same edges shifted 20 years (issue 13: all weights used to be 0)."""
    from factories import delta as make

    t1997 = 874_965_758_000  # 1997-09-22, a MovieLens 100K timestamp
    shift = 20 * 365 * DAY_MS
    old = [("u1", "m1", 3.0, t1997), ("u1", "m2", 1.5, t1997 - 90 * DAY_MS), ("u2", "m1", 1.5, t1997 - 200 * DAY_MS)]
    store.upsert_interactions([make(u, i, w, ts=ts) for u, i, w, ts in old])
    before = export_snapshot(store, ExportConfig(), half_life_days=30.0, progress=False)
    assert before.manifest["now_ms"] == t1997
    assert np.all(before.weights > 0) and before.n_edges == 3
    store.clear()
    store.upsert_interactions([make(u, i, w, ts=ts + shift) for u, i, w, ts in old])
    after = export_snapshot(store, ExportConfig(), half_life_days=30.0, progress=False)
    np.testing.assert_array_equal(after.weights, before.weights)
    np.testing.assert_allclose(before.matrix("weights")[0, 1], 1.5 * 0.5**3, rtol=1e-6)  # 90 days = 3 half-lives


def test_decay_never_turns_a_weight_into_zero_or_flips_its_sign() -> None:
    from graphrec.clock import decay_weights

    ancient = decay_weights(
        np.array([2.0, -1.5, 0.0]), np.array([0, 0, 0]), now_ms=40 * 365 * DAY_MS, half_life_days=1.0
    )
    assert ancient[0] > 0 and ancient[1] < 0 and ancient[2] == 0  # 0.5 ** 14600 underflows any float
    assert ancient[0] == np.finfo(np.float32).tiny
    fresh = decay_weights(np.array([2.0]), np.array([T0]), now_ms=T0 + 30 * DAY_MS, half_life_days=30.0)
    np.testing.assert_allclose(fresh, [1.0])
