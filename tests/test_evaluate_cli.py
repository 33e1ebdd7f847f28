"""`graphrec evaluate` end to end on a LightGCN-format given split, and the shipped configs validate."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from model.graphs import block_snapshot
from typer.testing import CliRunner

from graphrec.config import Settings
from graphrec.data.importer import import_dataset
from graphrec.data.readers import read_events
from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.data.weighing import weigher_for
from graphrec.evaluation.datasets import load_events, load_lightgcn, load_movielens
from graphrec.export import ExportConfig, export_snapshot
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.model.pipeline import load_config
from graphrec.offline.runner import EvalConfig
from graphrec.snapshot import Snapshot

ROOT = Path(__file__).resolve().parents[1]


def _write_lightgcn(tmp_path: Path) -> tuple[Path, Path]:
    snap = block_snapshot(groups=3, users_per_group=10, items_per_group=8)
    rng = np.random.default_rng(0)
    train_lines, test_lines = [], []
    m = snap.matrix("ones")
    for u in range(snap.n_users):
        items = m[u].indices
        test = rng.random(len(items)) < 0.2
        train_lines.append(" ".join(map(str, [u, *items[~test]])))
        if test.any():
            test_lines.append(" ".join(map(str, [u, *items[test]])))
    (tmp_path / "train.txt").write_text("\n".join(train_lines) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(test_lines) + "\n")
    return tmp_path / "train.txt", tmp_path / "test.txt"


def test_lightgcn_loader_keeps_the_given_split(tmp_path: Path) -> None:
    train_txt, test_txt = _write_lightgcn(tmp_path)
    split = load_lightgcn(train_txt, test_txt)
    n_train = sum(len(line.split()) - 1 for line in train_txt.read_text().splitlines())
    n_test = sum(len(line.split()) - 1 for line in test_txt.read_text().splitlines())
    assert split.train.n_edges == n_train and split.test.nnz == n_test
    assert split.train.matrix("ones").multiply(split.test).nnz == 0


def test_an_events_file_loads_as_an_import_into_a_fresh_store_holds_it(store: FalkorDBStore, tmp_path: Path) -> None:
    """``--dataset events:FILE`` sees the edges ``graphrec import --format events`` writes (the same
    weights, newest timestamps and categories), exported undecayed, positives only."""
    report = generate(SyntheticSpec(interactions=3_000, seed=5), tmp_path / "events.csv")
    loaded = load_events(report.events_path)
    import_dataset(
        store,
        read_events(report.events_path),
        fmt="events",
        batch_size=1_000,
        weigher=weigher_for(store, Settings(_env_file=None)),
    )  # type: ignore[call-arg]
    exported = export_snapshot(store, ExportConfig(decay=False), half_life_days=30.0, progress=False)

    def edges(s: Snapshot) -> dict[tuple[str, str], tuple[float, int]]:
        return {
            (u, i): (round(float(w), 4), int(t))
            for u, i, w, t in zip(
                s.user_ids[s.rows].tolist(),
                s.item_ids[s.indices].tolist(),
                s.weights.tolist(),
                s.timestamps.tolist(),
                strict=True,
            )
        }

    assert loaded.n_edges > 300 and np.all(loaded.weights > 0)
    assert edges(loaded) == edges(exported)
    assert set(loaded.category_names.tolist()) == set(exported.category_names.tolist())
    cats = {
        i: set(
            loaded.category_names[
                loaded.category_indices[loaded.category_indptr[k] : loaded.category_indptr[k + 1]]
            ].tolist()
        )
        for k, i in enumerate(loaded.item_ids.tolist())
    }
    cats_exported = {
        i: set(
            exported.category_names[
                exported.category_indices[exported.category_indptr[k] : exported.category_indptr[k + 1]]
            ].tolist()
        )
        for k, i in enumerate(exported.item_ids.tolist())
    }
    assert cats == cats_exported


def test_evaluate_command_writes_results(tmp_path: Path) -> None:
    from graphrec.cli import app

    train_txt, test_txt = _write_lightgcn(tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--dataset",
            f"lightgcn:{train_txt},{test_txt}",
            "--seed",
            "0",
            "--output",
            str(out),
            "--models",
            "MostPopular,ItemKNN,Traversal",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())["results"]
    assert [r["model"] for r in rows] == ["MostPopular", "ItemKNN", "Traversal"]
    assert all({"recall@20", "ndcg@20", "precision@20", "mrr@20"} <= set(r) for r in rows)
    assert "| ItemKNN |" in (out / "results.md").read_text() and "recall@20" in result.output


def test_evaluate_on_neo4j_adds_the_gds_row(
    tmp_path: Path, neo4j_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the store on a Neo4j that has GDS, the same split gets a GDS-FastRP-kNN row."""
    from graphrec.cli import app

    for name, value in {
        "GRAPHREC_GRAPH_URI": neo4j_server.uri,
        "GRAPHREC_GRAPH_USER": neo4j_server.user,  # type: ignore[attr-defined]
        "GRAPHREC_GRAPH_PASSWORD": neo4j_server.password,
    }.items():  # type: ignore[attr-defined]
        monkeypatch.setenv(name, value)
    train_txt, test_txt = _write_lightgcn(tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--dataset",
            f"lightgcn:{train_txt},{test_txt}",
            "--output",
            str(out),
            "--models",
            "MostPopular,ItemKNN",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    assert list(rows) == ["MostPopular", "ItemKNN", "GDS-FastRP-kNN"]
    assert 0 < rows["GDS-FastRP-kNN"]["ndcg@10"] <= 1 and rows["GDS-FastRP-kNN"]["fit_seconds"] >= 0
    assert "| GDS-FastRP-kNN |" in (out / "results.md").read_text()


@pytest.mark.parametrize("name", ["ml100k.toml", "synthetic.toml"])
def test_shipped_configs_validate(name: str) -> None:
    path = ROOT / "training" / "configs" / name
    cfg = load_config(path)
    raw = tomllib.loads(path.read_text())
    EvalConfig.model_validate({**raw.get("evaluation", {}), "graphsage": raw.get("train", {})})
    assert cfg.train.encoder.dim == 64


@pytest.mark.dataset
def test_movielens_100k_loader(ml100k_dir: Path) -> None:
    snap = load_movielens(ml100k_dir)
    assert (snap.n_users, snap.n_items, snap.n_edges) == (943, 1682, 100_000)
    assert snap.timestamps.min() > 8e11  # seconds were converted to milliseconds
