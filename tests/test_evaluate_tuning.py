"""Baseline tuning (graphrec.offline.tuning): the searches find the best point, the shared ItemKNN fit
tunes like one fit per point, and the row says which point won and whether it sat on the grid's edge."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from model.graphs import block_snapshot

from graphrec.evaluation.baselines import ItemKNN
from graphrec.evaluation.evaluated_model import EvaluatedModel
from graphrec.evaluation.report import markdown_table
from graphrec.evaluation.splits import random_holdout
from graphrec.offline.runner import EvalConfig, load_split, rank_metrics, summarise_seeds, tune
from graphrec.offline.tuning import (
    ALS_SEARCH_ITERATIONS,
    Grid,
    Tunable,
    _als_points,
    baseline_tunables,
    coordinate_search,
    search,
    validation_users,
)


def _bumpy(p: dict[str, Any]) -> float:
    """A peak at (x=3, y=30, z=1) with x and y interacting (the best x moves with y, so one pass from
    the start does not reach it), as ALS's regularization and alpha do."""
    a, b = p["x"] - 3, (p["y"] - 30) / 10
    return -(a * a + b * b - 0.8 * a * b) - (p["z"] - 1) ** 2


def test_coordinate_search_finds_the_best_point_of_interacting_axes_with_fewer_fits() -> None:
    grid = Grid({"x": (0, 1, 2, 3, 4, 5), "y": (0, 10, 20, 30, 40, 50), "z": (0, 1, 2)}, start={"x": 0, "y": 0, "z": 0})
    evaluated: list[tuple[Any, ...]] = []
    planned: list[int] = []

    def evaluate(points: list[dict[str, Any]]) -> dict[tuple[Any, ...], float]:
        keys = [(p["x"], p["y"], p["z"]) for p in points]
        evaluated.extend(keys)
        return {k: _bumpy(p) for k, p in zip(keys, points, strict=True)}

    best, scores = coordinate_search(grid, evaluate, on_plan=planned.append)
    assert best == max(grid.points(), key=_bumpy) == {"x": 3, "y": 30, "z": 1}
    assert len(evaluated) == len(set(evaluated)) == len(scores) == sum(planned)  # no point fitted twice
    assert len(evaluated) < len(grid.points()) / 2, len(evaluated)
    assert grid.edges(best) == "inside"
    assert grid.edges({"x": 5, "y": 30, "z": 0}) == "x=5 (top of 0..5); z=0 (bottom of 0..2)"
    floored = Grid(grid.axes, floors={"z": 0})  # z cannot go below 0: its bottom is no edge
    assert floored.edges({"x": 0, "y": 30, "z": 0}) == "x=0 (bottom of 0..5)"
    with pytest.raises(ValueError, match="start point"):
        coordinate_search(Grid({"x": (0, 1)}), evaluate, on_plan=planned.append)


def test_climbing_the_later_lines_finds_the_same_best_point_with_fewer_fits() -> None:
    axes = {"x": (0, 1, 2, 3, 4, 5), "y": (0, 10, 20, 30, 40, 50), "z": (0, 1, 2)}
    start = {"x": 0, "y": 0, "z": 0}
    counts = {}
    for climb in (False, True):
        evaluated: list[tuple[Any, ...]] = []

        def evaluate(points: list[dict[str, Any]]) -> dict[tuple[Any, ...], float]:
            keys = [(p["x"], p["y"], p["z"]) for p in points]
            evaluated.extend(keys)  # noqa: B023 (the loop's own list, used inside the loop)
            return {k: _bumpy(p) for k, p in zip(keys, points, strict=True)}

        best, scores = coordinate_search(Grid(axes, start=start, climb=climb), evaluate, on_plan=lambda n: None)
        assert best == {"x": 3, "y": 30, "z": 1}
        assert len(evaluated) == len(set(evaluated)) == len(scores)
        counts[climb] = len(evaluated)
    assert counts[True] < counts[False], counts


@pytest.mark.parametrize("full_up_to", [0, 10**9])
def test_als_search_points_run_fewer_sweeps_than_the_winner_on_a_large_set(full_up_to: int) -> None:
    split = random_holdout(block_snapshot(groups=3, users_per_group=15, items_per_group=12, density=0.5), seed=0)
    als = baseline_tunables(seed=0, ease_max_items=10_000, mf_bpr=lambda **kw: ItemKNN())["ALS"]
    grid = Grid({"regularization": (0.1, 1.0), "alpha": (5.0,), "factors": (4,)})
    tiny = Tunable(als.make, grid, _als_points(0, full_up_to=full_up_to))
    sweeps: list[int] = []

    def score(model: EvaluatedModel, ranked: np.ndarray) -> float:
        sweeps.append(model.iterations)  # type: ignore[attr-defined]
        return float(rank_metrics(model, split, [10], users=ranked)["recall@10"])

    winner, row = search("ALS", tiny, split, split.test_users, score, metric="recall@10", progress=False)
    searched = ALS_SEARCH_ITERATIONS if split.train.n_edges > full_up_to else 20  # a small set: full sweeps
    assert sweeps == [searched, searched] and row["tuned_points"] == 2
    assert winner.iterations == 20  # type: ignore[attr-defined]
    assert (searched < 20) == (full_up_to == 0)


def test_a_shared_item_knn_fit_tunes_like_one_fit_per_point() -> None:
    split = random_holdout(block_snapshot(groups=3, users_per_group=15, items_per_group=12, density=0.5), seed=0)
    grid = Grid({"neighbours": (1, 3, 10, 30), "shrink": (0.0, 10.0, 100.0)})
    users = split.test_users
    seen: dict[str, dict[tuple[Any, ...], float]] = {"shared": {}, "alone": {}}

    def scorer(label: str) -> Any:
        def score(model: EvaluatedModel, ranked: np.ndarray) -> float:
            assert isinstance(model, ItemKNN)
            value = float(rank_metrics(model, split, [10], users=ranked)["recall@10"])
            seen[label][(model.neighbours, model.shrink)] = value
            return value

        return score

    from graphrec.offline.tuning import _item_knn_points

    shared = Tunable(lambda **kw: ItemKNN(**kw), grid, _item_knn_points)
    alone = Tunable(lambda **kw: ItemKNN(**kw), grid)
    won_shared, row_shared = search(
        "ItemKNN", shared, split, users, scorer("shared"), metric="recall@10", progress=False
    )
    won_alone, row_alone = search("ItemKNN", alone, split, users, scorer("alone"), metric="recall@10", progress=False)
    assert seen["shared"] == seen["alone"] and len(seen["shared"]) == 12
    assert row_shared["params"] == row_alone["params"]
    assert row_shared["validation_recall@10"] == round(max(seen["alone"].values()), 4)
    assert row_shared["tuned_points"] == 12 and row_shared["grid_edge"] == grid.edges(row_shared["params"])
    assert isinstance(won_shared, ItemKNN) and (won_shared.neighbours, won_shared.shrink) == (
        row_shared["params"]["neighbours"],
        row_shared["params"]["shrink"],
    )


def test_tuning_ranks_a_seeded_sample_of_validation_users_when_there_are_many() -> None:
    split = random_holdout(block_snapshot(groups=4, users_per_group=50, items_per_group=10), seed=0)
    assert np.array_equal(validation_users(split, most=None, seed=0), split.test_users)
    assert np.array_equal(validation_users(split, most=10_000, seed=0), split.test_users)
    sample = validation_users(split, most=100, seed=3)
    assert len(sample) == 100 and set(sample) <= set(split.test_users) and np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, validation_users(split, most=100, seed=3))
    assert not np.array_equal(sample, validation_users(split, most=100, seed=4))
    cfg = EvalConfig(dataset="store", seed=0, tune_users=100)
    _, row = tune("ItemKNN", cfg, load_split(cfg, snapshot=block_snapshot(groups=4, users_per_group=50)))
    assert row["validation_users"] == 100


def test_the_row_and_the_seed_summary_say_which_point_won_and_whether_on_an_edge() -> None:
    cfg = EvalConfig(dataset="store", seed=0)
    _, row = tune("ItemKNN", cfg, load_split(cfg, snapshot=block_snapshot()))
    assert {"params", "validation_recall@20", "validation_split", "grid_edge", "tuned_points", "tune_seconds"} <= set(
        row
    )
    table = markdown_table([{"model": "ItemKNN", "recall@20": 0.3, **row}])
    assert "grid_edge" in table.splitlines()[0] and row["grid_edge"] in table
    seeds = [
        [{"model": "ALS", "recall@20": 0.3, "ndcg@20": 0.2, "params": {"alpha": 10.0}, "grid_edge": "inside"}],
        [
            {
                "model": "ALS",
                "recall@20": 0.4,
                "ndcg@20": 0.3,
                "params": {"alpha": 40.0},
                "grid_edge": "alpha=40.0 (top)",
            }
        ],
    ]
    summary = summarise_seeds(seeds, primary=["recall@20", "ndcg@20"], seeds=[3, 7])[0]
    assert summary["params"] == "seed 3: alpha=10.0 | seed 7: alpha=40.0"  # named by the seeds run, not 1, 2
    assert summary["grid_edge"] == "seed 3: inside | seed 7: alpha=40.0 (top)"
    assert summarise_seeds(seeds, primary=["recall@20"])[0]["params"] == "seed 0: alpha=10.0 | seed 1: alpha=40.0"
