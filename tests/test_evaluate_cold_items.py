"""``graphrec evaluate --protocol cold-items``: whole items held out with every edge, trained without, and
ranked from their title and categories beside text cosine and popularity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from graphrec.evaluation.datasets import load_movielens
from graphrec.evaluation.splits import cold_item_split
from graphrec.offline.cold_items import CATEGORY_POPULAR, CONTENT, LAYERS, ORACLE_POPULAR, ROWS, SERVED, TEXT
from tests.model.graphs import GROUP_WORDS, block_snapshot

GENRES = ("Action", "Comedy", "Drama")


def write_movielens(root: Path, *, groups: int = 3, users_per_group: int = 15, movies_per_group: int = 12) -> Path:
    """A MovieLens 100K-shaped directory (u.data, u.item, u.genre): users of group g rate group g's movies,
    whose titles and genre name the group."""
    rng = np.random.default_rng(7)
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.genre").write_text("".join(f"{g}|{k}\n" for k, g in enumerate(GENRES)) + "\n")
    items = []
    for m in range(groups * movies_per_group):
        g = m // movies_per_group
        flags = ["1" if k == g else "0" for k in range(len(GENRES))]
        items.append(f"{m + 1}|{GROUP_WORDS[g].title()} part {m} (199{g})|01-Jan-199{g}||http://x|" + "|".join(flags))
    (root / "u.item").write_text("\n".join(items) + "\n", encoding="latin1")
    lines = []
    for u in range(groups * users_per_group):
        g = u // users_per_group
        own = rng.choice(movies_per_group, size=8, replace=False) + g * movies_per_group
        other = rng.choice(groups * movies_per_group, size=1)
        for t, m in enumerate(np.concatenate([own, other])):
            lines.append(f"{u + 1}\t{m + 1}\t{rng.integers(1, 6)}\t{880_000_000 + 3600 * t}")
    (root / "u.data").write_text("\n".join(lines) + "\n")
    return root


def test_the_split_holds_whole_items_out_and_trains_as_if_they_never_existed() -> None:
    full = block_snapshot(titles=True)
    split = cold_item_split(full, fraction=0.2, seed=3)
    cold = set(split.cold_ids.tolist())
    assert len(cold) == 6 and not cold & set(split.train.item_ids.tolist())  # renumbered without them
    assert split.train.n_items == full.n_items - 6
    assert split.train.titles.tolist() == [t for i, t in zip(full.item_ids, full.titles, strict=True) if i not in cold]
    held = {(u, i) for u, i in zip(full.user_ids[full.rows], full.item_ids[full.indices], strict=True) if i in cold}
    test = split.test.tocoo()
    got = {(split.train.user_ids[r], split.cold_ids[c]) for r, c in zip(test.row, test.col, strict=True)}
    assert got == held  # every held-out edge, each to its user's training row
    assert split.train.n_edges + len(held) == full.n_edges
    position = {i: k for k, i in enumerate(full.item_ids.tolist())}
    for item, title, cats in zip(split.cold_ids, split.cold_titles, split.cold_categories, strict=True):
        assert title == full.titles[position[item]] and cats == (f"c{position[item] // 10}",)
    with pytest.raises(ValueError, match="no cold or no warm item"):
        cold_item_split(full, fraction=0.001, seed=0)


def test_movielens_content_gives_titles_and_genres(tmp_path: Path) -> None:
    root = write_movielens(tmp_path / "ml")
    plain, content = load_movielens(root), load_movielens(root, content=True)
    assert not plain.has_titles and plain.n_categories == 0  # the edge-holdout tables' data set, as before
    assert content.titles[0] == "Orchard Apples part 0 (1990)" and content.category_names.tolist() == sorted(GENRES)
    assert content.manifest["content_hash"] != plain.manifest["content_hash"]
    np.testing.assert_array_equal(content.indices, plain.indices)


def test_evaluate_cold_items_ranks_held_out_items_from_their_content(tmp_path: Path) -> None:
    from graphrec.cli import app

    root = write_movielens(tmp_path / "ml")
    config = tmp_path / "cold.toml"
    config.write_text(
        "[evaluation]\nks = [5]\n[evaluation.cold_items]\nfraction = 0.25\n"
        "[train]\nepochs = 30\nbatch_size = 64\neval_every = 10\nthreads = 1\n"
        "[train.encoder]\ndim = 16\n[train.content]\ntext_dim = 8\n"
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--dataset",
            f"movielens:{root}",
            "--protocol",
            "cold-items",
            "--config",
            str(config),
            "-o",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "results.json").read_text())
    rows = {r["model"]: r for r in report["results"]}
    assert list(rows) == list(ROWS)
    facts = report["meta"]["per_seed"]["0"]
    assert facts["cold_items"] == 9 and facts["warm_items"] == 27 and facts["text_terms"] > 0
    for name in ROWS:
        assert 0.0 <= rows[name]["recall@5"] <= 1.0 and 0.0 <= rows[name]["ndcg@5"] <= 1.0
    # titles and genres name each user's group: the content rankings find the held-out items of it
    chance = 5 / 9
    assert rows[SERVED]["recall@5"] > chance and rows[CONTENT]["recall@5"] > chance and rows[TEXT]["recall@5"] > chance
    assert {LAYERS, CATEGORY_POPULAR, ORACLE_POPULAR} <= set(rows)
    tests = report["meta"]["paired_tests"]
    assert {t["b"] for t in tests} == set(ROWS) - {SERVED} and {t["metric"] for t in tests} == {"recall@5", "ndcg@5"}
    table = (out / "results.md").read_text()
    assert f"| {SERVED} |" in table and "held-out items ranked for" in table and table in result.output + "\n"
