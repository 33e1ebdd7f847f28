"""The rating policy is one explicit option: the import of a mode and `evaluate --dataset movielens`
with the same mode give the same training edges, on both stores (issue 17: one data set, two paths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from graphrec.config import Settings
from graphrec.data.importer import import_dataset
from graphrec.data.readers import read_dataset
from graphrec.data.weighing import weigher_for
from graphrec.evaluation.datasets import load_movielens
from graphrec.export import ExportConfig, export_snapshot
from graphrec.graph.port import GraphStore

RATINGS = [  # user, item, stars, seconds
    (1, 1, 5, 881250949),
    (1, 2, 3, 881250950),
    (1, 3, 1, 881250951),
    (2, 1, 4, 881250952),
    (2, 3, 5, 881350953),
    (3, 2, 2, 881450954),
    (3, 3, 4, 881550955),
    (3, 1, 3, 881650956),
]


def ml_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS))
    (root / "u.genre").write_text("unknown|0\nAction|1\n\n")
    (root / "u.item").write_text(
        "1|A (1995)|01-Jan-1995||x|0|1\n2|B (1995)|01-Jan-1995||y|1|0\n3|C (1995)|01-Jan-1995||z|0|1\n"
    )
    return root


def edges_of(snap) -> dict[tuple[str, str], float]:  # type: ignore[no-untyped-def]
    m = snap.matrix("weights").tocoo()
    return {
        (str(snap.user_ids[u]), str(snap.item_ids[i])): float(w) for u, i, w in zip(m.row, m.col, m.data, strict=True)
    }


@pytest.mark.parametrize("mode", ["signed", "positive", "implicit"])
def test_import_and_file_path_train_on_the_same_edges(any_store: GraphStore, tmp_path: Path, mode: str) -> None:
    root = ml_dir(tmp_path / "ml")
    import_dataset(
        any_store,
        read_dataset("movielens", root, ratings=mode),
        fmt=f"movielens:{mode}",
        weigher=weigher_for(any_store, Settings()),
        batch_size=3,
    )
    stored = edges_of(export_snapshot(any_store, ExportConfig(decay=False), half_life_days=30.0, progress=False))
    from_file = edges_of(load_movielens(root, ratings=mode))
    assert stored.keys() == from_file.keys()
    if mode == "implicit":  # every rating, all of equal weight (a view in the graph, 1 in the file)
        assert len(stored) == len(RATINGS) and len(set(stored.values())) == 1
    else:  # 4 and 5 stars only, weighing 1.5 and 3.0 in both
        assert stored.keys() == {(str(u), str(i)) for u, i, r, _ in RATINGS if r >= 4}
        assert stored == pytest.approx(from_file)
        assert sorted(set(stored.values())) == [1.5, 3.0]
    graph_edges = any_store.counts().interactions
    assert graph_edges == (len(RATINGS) if mode in ("signed", "implicit") else 4)  # signed keeps the dislikes


@pytest.mark.integration  # the CLI's embedded store
def test_every_mode_is_its_own_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphrec.cli import app

    root = ml_dir(tmp_path / "ml")
    monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"embedded:{tmp_path / 'store'}")
    runner = CliRunner()
    first = runner.invoke(app, ["import", "--format", "movielens", str(root), "--ratings", "positive"])
    assert first.exit_code == 0, first.output
    assert "4 interactions" in first.output
    again = runner.invoke(app, ["import", "--format", "movielens", str(root), "--ratings", "positive"])
    assert "already imported" in again.output
    signed = runner.invoke(app, ["import", "--format", "movielens", str(root)])  # default: signed
    assert "already imported" not in signed.output and "graph: 3 users, 3 items" in signed.output
    bad = runner.invoke(app, ["import", "--format", "movielens", str(root), "--ratings", "stars"])
    assert bad.exit_code == 2 and "--ratings must be one of signed, positive, implicit" in bad.output


def test_evaluate_reads_movielens_by_the_chosen_mode(tmp_path: Path) -> None:
    root = ml_dir(tmp_path / "ml")
    implicit, signed = load_movielens(root), load_movielens(root, ratings="signed")
    assert implicit.n_edges == len(RATINGS) and np.all(implicit.weights == 1)
    assert signed.n_edges == 4 and signed.manifest["ratings"] == "signed"
