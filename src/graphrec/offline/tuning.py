"""Baseline tuning for ``graphrec evaluate``: each tunable baseline's grid, how it is searched, and which
point won (and whether on the grid's edge).

Every baseline is tuned on a validation holdout of the training edges (never the test edges), cut by
the test split's protocol, and ranked over the whole catalogue like the test. Why the grids are this
wide: a grid whose winner sits on its edge says only that the best value lies further out (issue 30:
ALS at regularization 50 and alpha 10, outside the old 0.01-1 and 1-5, gained ~0.04 Recall@20 on
ML-100K; MF-BPR's L2 0.03 was above the old 1e-2). A winner still on an edge is named in the row
(``grid_edge``) so a reader sees the tuning was not finished.

What keeps it affordable on ~800k training edges:

* ItemKNN's two axes and ALS's three are searched coordinate-wise (:func:`coordinate_search`): each
  pass varies one axis at a time around the best point so far, until a pass changes nothing; ItemKNN's
  line of neighbour counts shares one co-occurrence product and one sort (:meth:`ItemKNN.grid`);
* ALS's later passes climb each line from the best point instead of fitting it whole, and on a set
  above :data:`ALS_FULL_SWEEPS_UP_TO` training edges a search point runs :data:`ALS_SEARCH_ITERATIONS`
  sweeps, the winner its full 20 (on the 800k-edge set, 8
  sweeps scored 0.0014-0.0025 Recall@20 below 20 at three far-apart points, about the same for each:
  the comparison between points mostly holds, at 40% of the cost);
* the validation users' ranking (:class:`graphrec.evaluation.ranking.RankingTask`) is built once and
  shared by every point of every baseline;
* the validation ranking covers at most ``tune_users`` users (a seeded sample; all of ML-100K's).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphrec.evaluation.baselines import EASE, ImplicitALS, ItemKNN
from graphrec.evaluation.evaluated_model import EvaluatedModel
from graphrec.evaluation.ranking import RankingTask
from graphrec.evaluation.splits import Split, holdout
from graphrec.progress import Mode, StepProgress
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)

Params = dict[str, Any]
ALS_SEARCH_ITERATIONS = 8  # ALS sweeps per search point on a large set (the winner is fitted with its full 20)
ALS_FULL_SWEEPS_UP_TO = 200_000  # training edges up to which search points run the full sweeps too
Scorer = Callable[[EvaluatedModel, np.ndarray], float]  # a fitted model's validation metric on these users
FitPoints = Callable[[Snapshot, list[Params]], Iterator[tuple[Params, EvaluatedModel]]]


@dataclass(frozen=True)
class Grid:
    """A baseline's axes (values in increasing order) and, for a coordinate search, where it starts
    (``start``; ``None``: every point of the product is evaluated)."""

    axes: dict[str, tuple[Any, ...]]
    start: Params | None = None
    floors: Params | None = None  # an axis's smallest possible value (shrink 0): a winner there is not on an edge
    climb: bool = False  # after the first pass, lines are climbed from the best point, not evaluated whole

    def points(self) -> list[Params]:
        names = list(self.axes)
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*self.axes.values())]

    def edges(self, params: Params) -> str:
        """Which of ``params``'s values sit on the edge of their axis (``"inside"`` when none does)."""
        found = [
            f"{name}={params[name]} ({'top' if params[name] == values[-1] else 'bottom'} of {values[0]}..{values[-1]})"
            for name, values in self.axes.items()
            if len(values) > 1
            and params[name] in (values[0], values[-1])
            and not (self.floors and name in self.floors and params[name] == self.floors[name])
        ]
        return "; ".join(found) if found else "inside"


@dataclass(frozen=True)
class Tunable:
    """A baseline's factory (the final model, fitted by the evaluation) and its grid."""

    make: Callable[..., EvaluatedModel]
    grid: Grid
    fit_points: FitPoints | None = None  # fits several points at once, sharing work (None: one by one)


def _one_by_one(make: Callable[..., EvaluatedModel]) -> FitPoints:
    def fit(train: Snapshot, points: list[Params]) -> Iterator[tuple[Params, EvaluatedModel]]:
        for params in points:
            model = make(**params)
            model.fit(train)
            yield params, model

    return fit


def _item_knn_points(train: Snapshot, points: list[Params]) -> Iterator[tuple[Params, EvaluatedModel]]:
    """The points fitted from one co-occurrence product (:meth:`ItemKNN.grid`)."""
    neighbours = sorted({int(p["neighbours"]) for p in points})
    shrinks = sorted({float(p["shrink"]) for p in points})
    wanted = {(int(p["neighbours"]), float(p["shrink"])) for p in points}
    for model in ItemKNN.grid(train, neighbours=neighbours, shrinks=shrinks):
        if (model.neighbours, model.shrink) in wanted:
            yield {"neighbours": model.neighbours, "shrink": model.shrink}, model


def _als_points(seed: int, *, full_up_to: int) -> FitPoints:
    """ALS search points: :data:`ALS_SEARCH_ITERATIONS` sweeps above ``full_up_to`` training edges, the
    model's full sweeps at or below (ML-100K's whole search takes seconds; 8 sweeps there picked 128
    factors over 256 and lost 0.001 test Recall@20 on seed 0)."""

    def fit(train: Snapshot, points: list[Params]) -> Iterator[tuple[Params, EvaluatedModel]]:
        sweeps = {"iterations": ALS_SEARCH_ITERATIONS} if train.n_edges > full_up_to else {}
        for params in points:
            model = ImplicitALS(seed=seed, **sweeps, **params)
            model.fit(train)
            yield params, model

    return fit


def baseline_tunables(*, seed: int, ease_max_items: int, mf_bpr: Callable[..., EvaluatedModel]) -> dict[str, Tunable]:
    """Per tunable baseline: its factory and grid (``mf_bpr``: the runner's MF-BPR factory)."""
    knn = Grid(  # 56 points; ~20 searched (each line of neighbours shares one co-occurrence sort)
        {
            "neighbours": (25, 50, 100, 200, 400, 800, 1600, 3200),
            "shrink": (0.0, 10.0, 50.0, 200.0, 1000.0, 3000.0, 10000.0),
        },
        start={"neighbours": 100, "shrink": 10.0},
        floors={"shrink": 0.0},
    )
    als = Grid(  # searched in this order: the two that interact first, the costly factors last
        {
            "regularization": (0.1, 1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0),
            "alpha": (1.0, 5.0, 10.0, 20.0, 40.0),
            "factors": (32, 64, 128, 256),
        },
        start={"regularization": 10.0, "alpha": 5.0, "factors": 64},
        climb=True,
    )

    def make_knn(**kw: Any) -> EvaluatedModel:
        return ItemKNN(**kw)

    def make_ease(**kw: Any) -> EvaluatedModel:
        return EASE(max_items=ease_max_items, **kw)

    def make_als(**kw: Any) -> EvaluatedModel:
        return ImplicitALS(seed=seed, **kw)

    return {
        "ItemKNN": Tunable(make_knn, knn, _item_knn_points),
        "EASE": Tunable(make_ease, Grid({"l2": (10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0)})),
        "ALS": Tunable(make_als, als, _als_points(seed, full_up_to=ALS_FULL_SWEEPS_UP_TO)),
        "MF-BPR": Tunable(mf_bpr, Grid({"reg": (1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3)})),
    }


def coordinate_search(
    grid: Grid, evaluate: Callable[[list[Params]], dict[tuple[Any, ...], float]], *, on_plan: Callable[[int], None]
) -> tuple[Params, dict[tuple[Any, ...], float]]:
    """Coordinate ascent over ``grid`` from ``grid.start``: per pass, each axis in turn is varied over all
    its values with the others held at the best point so far, which then moves there; it stops after a
    pass that moved nothing. ``evaluate`` scores new points (keyed by their values in axis order);
    ``on_plan`` hears how many new points each step adds. Why: ALS's axes interact (regularization and
    confidence scale together), so one pass is not enough, but the full product is 100+ fits of 20
    sweeps each; in practice 2-3 passes find the product's best on ML-100K (tests/test_evaluate_tuning.py
    checks it finds the best of a function with interacting axes).

    ``grid.climb``: after the first pass (whole lines, so a far optimum is seen), a line is climbed
    instead: both neighbours of the best value, then on in the better direction while the score rises.
    Why: the later passes re-tune the other axes at the first pass's costly winner (ALS: 256 factors,
    4x a 64-factor fit); their optimum has moved along a smooth line, which a climb follows in a few fits."""
    if grid.start is None:
        raise ValueError("a coordinate search needs the grid's start point")
    names = list(grid.axes)
    best = dict(grid.start)
    scores: dict[tuple[Any, ...], float] = {}

    def key(p: Params) -> tuple[Any, ...]:
        return tuple(p[n] for n in names)

    def scored(points: list[Params]) -> None:
        new = [p for p in points if key(p) not in scores]
        if new:
            on_plan(len(new))
            scores.update(evaluate(new))

    def climb(name: str, start: Params) -> Params:
        values = grid.axes[name]
        at = values.index(start[name])
        steps = [start | {name: values[i]} for i in (at - 1, at + 1) if 0 <= i < len(values)]
        scored(steps)
        top = max([start, *steps], key=lambda p: scores[key(p)])  # ties: the start, then the lower value
        if key(top) == key(start):
            return start
        direction = 1 if values.index(top[name]) > at else -1
        while 0 <= (i := values.index(top[name]) + direction) < len(values):
            step = top | {name: values[i]}
            scored([step])
            if scores[key(step)] <= scores[key(top)]:
                break
            top = step
        return top

    moved, first = True, True
    while moved:
        moved = False
        for name in names:
            if grid.climb and not first:
                winner = climb(name, best)
            else:
                line = [best | {name: value} for value in grid.axes[name]]
                scored(line)
                winner = max(line, key=lambda p: scores[key(p)])  # ties: the lower value
            if key(winner) != key(best) and scores[key(winner)] > scores[key(best)]:
                best, moved = winner, True
        first = False
    return best, scores


def validation_split(split: Split, *, protocol: str, fraction: float, seed: int) -> Split:
    """The validation holdout of ``split.train``, cut by the test split's protocol (seed + 1: not the
    test split's own cut)."""
    return holdout(protocol)(split.train, test_fraction=fraction, seed=seed + 1)


def validation_users(validation: Split, *, most: int | None, seed: int) -> np.ndarray:
    """The validation users ranked while tuning: all of them, or a seeded sample of ``most`` (sorted)."""
    users = validation.test_users
    if most is None or len(users) <= most:
        return users
    return np.sort(np.random.default_rng(seed + 2).choice(users, size=most, replace=False))


@dataclass(frozen=True)
class Validation:
    """A validation holdout, the users ranked on it while tuning and their :class:`RankingTask` (built
    once per seed: every baseline's every grid point ranks the same users)."""

    split: Split
    users: np.ndarray
    task: RankingTask


def prepare_validation(split: Split, *, protocol: str, fraction: float, seed: int, most: int | None) -> Validation:
    """:func:`validation_split` of ``split`` and :func:`validation_users` on it, with their ranking task."""
    validation = validation_split(split, protocol=protocol, fraction=fraction, seed=seed)
    users = validation_users(validation, most=most, seed=seed)
    return Validation(validation, users, RankingTask.of(validation.train.matrix("ones"), users))


def search(
    name: str,
    tunable: Tunable,
    validation: Split,
    users: np.ndarray,
    score: Scorer,
    *,
    metric: str,
    progress: Mode | bool,
) -> tuple[EvaluatedModel, dict[str, Any]]:
    """Search ``tunable``'s grid on ``validation`` (``score``: a fitted model's ``metric`` on ``users``);
    returns the unfitted winner and the row's tuning columns (``params``, ``validation_<metric>``,
    ``grid_edge``, ``tuned_points``, ``tune_seconds``)."""
    grid = tunable.grid
    fit_points = tunable.fit_points or _one_by_one(tunable.make)
    started = time.perf_counter()
    names = list(grid.axes)
    report = StepProgress(0, progress, desc=f"tune {name}", every_step=False, leave=False)

    def evaluate(points: list[Params]) -> dict[tuple[Any, ...], float]:
        out: dict[tuple[Any, ...], float] = {}
        last = time.perf_counter()
        for params, model in fit_points(validation.train, points):  # fitted as the loop asks
            value = score(model, users)
            out[tuple(params[n] for n in names)] = value
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            now = time.perf_counter()
            report.done(shown, f"{value:.4f}", now - last)  # its fit (or its share of one) and its ranking
            last = now
        return out

    if grid.start is None:
        points = grid.points()
        report.grow(len(points))
        scores = evaluate(points)
        best = max(points, key=lambda p: scores[tuple(p[n] for n in names)])  # ties: the earlier point
    else:
        best, scores = coordinate_search(grid, evaluate, on_plan=report.grow)
    report.close()
    best_score = scores[tuple(best[n] for n in names)]
    edge = grid.edges(best)
    logger.info("tuned %s on validation: %s (%.4f, grid edge: %s)", name, best, best_score, edge)
    if edge != "inside":
        logger.warning("%s's best validation point is on its grid's edge (%s): the grid may be too narrow", name, edge)
    return tunable.make(**best), {
        "params": best,
        f"validation_{metric}": round(best_score, 4),
        "validation_split": validation.protocol,
        "grid_edge": edge,
        "tuned_points": len(scores),
        "tune_seconds": round(time.perf_counter() - started, 1),
    }
