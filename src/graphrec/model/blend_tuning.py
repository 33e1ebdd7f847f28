"""Tune the blend weight ``alpha`` (see :mod:`graphrec.scoring.blend`) on a validation split.

Protocol: the training snapshot's most recent 20 % of each user's edges are held out
(``temporal_holdout``); for up to ``max_users`` users with held-out edges the embedding scores come
from the model's inductive user embedding over their remaining edges (``ModelArtifact.infer_user``,
exactly what the API does for a user with new events), the graph scores from
:class:`~graphrec.scoring.traversal.TraversalScorer` (the store's traversal formula) over the
remaining edges. Each ``alpha`` on the grid blends the two top-``top_n`` candidate lists with the
serving rule, and the alpha with the best mean NDCG@k (ties: recall@k, then the larger alpha) wins.

Caveat: the published model was fitted on all edges (held-out ones included), so the embedding
side is optimistic; the tuned alpha therefore leans towards embeddings at most as far as the
leak allows. ``blend.json`` records the whole grid so this can be inspected.

Users the model has never seen get weights by history length instead (:class:`HistoryWeights`,
``BlendParams.new_users``): tuned at train time by the new-user protocol on users held out of an
auxiliary model's training (:mod:`graphrec.offline.new_user_tuner`, passed to
:func:`graphrec.model.pipeline.train`), so neither side has seen the users it is tuned on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from graphrec.evaluation.metrics import hit_matrix, ndcg_at_k, recall_at_k, top_k
from graphrec.evaluation.splits import temporal_holdout
from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import TrainConfig
from graphrec.model.item_neighbours import Similarity
from graphrec.scoring.blend import blend_matrix
from graphrec.scoring.traversal import TraversalScorer
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)

BLEND_FILE = "blend.json"
DEFAULT_GRID = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 11))


@dataclass(frozen=True)
class HistoryWeights:
    """The blend of a user the model has never seen: embedding weight ``alpha`` (of the personal part),
    popularity-prior weight ``beta`` and item-neighbour weight ``gamma`` (of the graph part)
    (:func:`graphrec.scoring.blend.blend`); ``similarity`` is how the item neighbours' counts become
    scores (``None``: the table's own cosine, :class:`graphrec.model.item_neighbours.ItemNeighbours`)."""

    alpha: float
    beta: float = 0.0
    gamma: float = 0.0
    similarity: Similarity | None = None

    def describe(self) -> str:
        """One line for logs and reports: the weights, and the similarity where the neighbours count."""
        text = f"alpha {self.alpha:g}, beta {self.beta:g}, gamma {self.gamma:g}"
        if self.similarity is not None and self.gamma > 0:
            sim = self.similarity
            text += f" (similarity: shrink {sim.shrink:g}, asymmetry {sim.asymmetry:g}, locality {sim.locality:g})"
        return text


@dataclass(frozen=True)
class BlendParams:
    """What serving needs: the embedding weight, and where it came from.

    ``new_users`` maps a history length ``n`` to the weights tuned for new users with ``n``
    interactions (empty: a new user is blended like everyone, with ``alpha`` and no prior);
    ``new_user_details`` records how they were tuned (validation users, metrics per ``n``, the grid).
    """

    alpha: float
    source: str  # "tuned" | "default"
    metric: str = ""
    grid: dict[str, float] = field(default_factory=dict)
    details: dict[str, float | int | str] = field(default_factory=dict)
    new_users: dict[int, HistoryWeights] = field(default_factory=dict)
    new_user_details: dict[str, Any] = field(default_factory=dict)

    def weights_for(self, history_length: int, *, new_user: bool) -> HistoryWeights:
        """The blend of a user with ``history_length`` interactions in their live history.

        A user the model knows (``new_user`` false), or a version without tuned new-user weights,
        gets ``alpha`` and no prior. A new user gets the weights tuned for the longest tuned length
        at most ``history_length`` (the shortest for an empty history): a step function, because the
        protocol measured those lengths and nothing in between.
        """
        if not new_user or not self.new_users:
            return HistoryWeights(self.alpha)
        lengths = sorted(self.new_users)
        at_most = [n for n in lengths if n <= history_length]
        return self.new_users[at_most[-1] if at_most else lengths[0]]


@dataclass(frozen=True)
class NewUserBlend:
    """What the new-user tuner returns: weights per history length, how they were found, and the item
    neighbours' parameters (``neighbours``, ``shrink``) the version's table is to be fitted with
    (empty: no table; every ``gamma`` is then 0)."""

    weights: dict[int, HistoryWeights]
    details: dict[str, Any] = field(default_factory=dict)
    neighbours: dict[str, float] = field(default_factory=dict)


class NewUserTuning(BaseModel):
    """How a version's new-user weights are tuned (``PipelineConfig.new_users``).

    ``fraction`` of the users with at least ``max(lengths) + min_rest`` interactions (at most
    ``max_users``) are held out of an auxiliary model trained like the version; each is fed their
    first ``n`` interactions for every ``n`` in ``lengths``. The item neighbours' ``neighbours`` and
    ``shrink`` are chosen first, on the same users, by ItemKNN-from-history's mean NDCG@``k`` over the
    lengths, then each length's similarity (shrinkage x ``asymmetries`` x ``localities``); then every
    ``(alpha, beta, gamma)`` of the grid is scored on the rest by the smaller of NDCG@``k`` and
    Recall@``k``, each relative to ItemKNN-from-history's, and a mix must beat the item neighbours
    alone on both by one standard error (the rule in full:
    :class:`graphrec.offline.new_user_tuner.NewUserBlendTuner`).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True,
        description="tune new-user weights at train time (costs one more training "
        "of the best epoch count, on the other users)",
    )
    fraction: float = Field(0.2, gt=0, lt=1, description="share of the eligible users held out for tuning")
    max_users: int = Field(300, ge=1, description="at most this many users held out for tuning")
    lengths: list[int] = Field(
        default_factory=lambda: [1, 3, 5, 10],
        min_length=1,
        description="history lengths tuned (a new user gets the longest tuned one at most their own)",
    )
    min_rest: int = Field(5, ge=1, description="interactions left to score after the longest history")
    k: int = Field(20, ge=1)
    # every (user, n) gathers its candidates once and each grid point only re-ranks them
    # (graphrec.recommend.ranking.rank_candidates): 7 x 7 x 6 points cost ML-100K's tuning about a minute
    alphas: list[float] = Field(default_factory=lambda: [0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0], min_length=1)
    betas: list[float] = Field(
        default_factory=lambda: [0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9],
        min_length=1,
        description="popularity-prior weights tried",
    )
    gammas: list[float] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 0.9, 1.0],
        min_length=1,
        description="item-neighbour weights tried (share of the graph part)",
    )
    asymmetries: list[float] = Field(
        default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        min_length=1,
        description="item-neighbour similarity asymmetries tried (0.5: the cosine, 1: P(candidate | seed))",
    )
    localities: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0],
        min_length=1,
        description="item-neighbour similarity exponents tried (1: none)",
    )
    neighbour_entries: int = Field(
        10_000_000,
        ge=0,
        description="the item-neighbour table's size limit "
        "(items x neighbours, 8 bytes each): larger neighbour counts are not "
        "tried; 0 = no table",
    )

    @field_validator("lengths")
    @classmethod
    def _positive_lengths(cls, value: list[int]) -> list[int]:
        if any(n < 1 for n in value):
            raise ValueError("history lengths must be at least 1")
        return sorted(set(value))

    @field_validator("localities")
    @classmethod
    def _positive_localities(cls, value: list[float]) -> list[float]:
        if any(q <= 0 for q in value):
            raise ValueError("similarity exponents must be above 0")
        return value

    @field_validator("alphas", "betas", "gammas", "asymmetries")
    @classmethod
    def _weights(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= w <= 1.0 for w in value):
            raise ValueError("blend weights and asymmetries must lie within [0, 1]")
        return value


class NewUserTuner(Protocol):
    """Tunes :class:`HistoryWeights` per history length for a version being trained on ``snapshot``
    with ``config`` for ``epochs`` epochs (:mod:`graphrec.offline.new_user_tuner` implements it; the
    model layer only stores the result, so it takes the tuner as an argument)."""

    def __call__(
        self, snapshot: Snapshot, config: TrainConfig, tuning: NewUserTuning, *, epochs: int
    ) -> NewUserBlend: ...


def tune_blend(
    artifact: ModelArtifact,
    snapshot: Snapshot,
    *,
    k: int = 20,
    top_n: int = 100,
    max_users: int = 1_000,
    grid: tuple[float, ...] = DEFAULT_GRID,
    half_life_days: float = 30.0,
    seed_items: int = 20,
    seed: int = 0,
) -> BlendParams:
    """Grid-search ``alpha`` on a temporal validation split of ``snapshot`` (see module docstring)."""
    started = time.perf_counter()
    split = temporal_holdout(snapshot, test_fraction=0.2, seed=seed)
    train, test = split.train, split.test
    n_test = np.diff(test.indptr)
    users = np.flatnonzero(n_test > 0)
    if len(users) == 0:
        raise ValueError("no user has a held-out edge: the snapshot is too small to tune the blend")
    rng = np.random.default_rng(seed)
    if len(users) > max_users:
        users = np.sort(rng.choice(users, size=max_users, replace=False))
    # map snapshot indices to model indices (the model may have been trained on another export)
    item_map = np.array(
        [
            artifact.item_index(str(i)) if artifact.item_index(str(i)) is not None else -1
            for i in snapshot.item_ids.tolist()
        ],
        dtype=np.int64,
    )
    known_items = item_map >= 0
    n_items = snapshot.n_items
    emb = np.full((len(users), n_items), -np.inf)
    item_vecs = artifact.item_embeddings[np.maximum(item_map, 0)]
    for row, u in enumerate(users.tolist()):
        lo, hi = train.indptr[u], train.indptr[u + 1]
        items, weights = train.indices[lo:hi], train.weights[lo:hi]
        keep = known_items[items]
        if not keep.any():
            continue
        vec = artifact.infer_user(
            item_map[items[keep]], weights[keep], user_index=artifact.user_index(str(snapshot.user_ids[u]))
        )
        emb[row] = np.where(known_items, item_vecs @ vec, -np.inf)
    scorer = TraversalScorer(
        train.matrix("weights"), train.matrix("timestamps"), half_life_days=half_life_days, seed_items=seed_items
    )
    graph = scorer.score(users).astype(np.float64)
    seen = train.matrix("ones")[users]
    seen_rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
    emb[seen_rows, seen.indices] = -np.inf
    graph[seen_rows, seen.indices] = -np.inf
    relevant = test[users]
    n_rel = np.diff(relevant.indptr).astype(np.float64)
    results: dict[str, float] = {}
    recalls: dict[str, float] = {}
    for alpha in grid:
        scores = blend_matrix(emb, graph, alpha, top_n)
        ranked = top_k(scores, k)
        hits = hit_matrix(ranked, relevant) & np.isfinite(np.take_along_axis(scores, ranked, axis=1))
        results[f"{alpha:g}"] = float(ndcg_at_k(hits, n_rel).mean())
        recalls[f"{alpha:g}"] = float(recall_at_k(hits, n_rel).mean())
    best = max(grid, key=lambda a: (results[f"{a:g}"], recalls[f"{a:g}"], a))
    return BlendParams(
        alpha=float(best),
        source="tuned",
        metric=f"ndcg@{k}",
        grid=results,
        details={
            "recall_at_k": recalls[f"{best:g}"],
            "users": len(users),
            "k": k,
            "top_n": top_n,
            "protocol": split.protocol,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


def save_blend(directory: Path, params: BlendParams) -> Path:
    path = directory / BLEND_FILE
    tmp = directory / f".{BLEND_FILE}.tmp"
    raw = asdict(params)
    raw["new_users"] = {str(n): asdict(w) for n, w in sorted(params.new_users.items())}  # JSON keys are text
    tmp.write_text(json.dumps(raw, indent=2, default=float))
    tmp.replace(path)
    return path


def load_blend(directory: Path) -> BlendParams | None:
    path = directory / BLEND_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    new_users = {
        int(n): HistoryWeights(
            alpha=float(w["alpha"]),
            beta=float(w.get("beta", 0.0)),
            gamma=float(w.get("gamma", 0.0)),
            similarity=_similarity(w),
        )
        for n, w in dict(raw.get("new_users", {})).items()
    }
    return BlendParams(
        alpha=float(raw["alpha"]),
        source=str(raw.get("source", "tuned")),
        metric=str(raw.get("metric", "")),
        grid=dict(raw.get("grid", {})),
        details=dict(raw.get("details", {})),
        new_users=new_users,
        new_user_details=dict(raw.get("new_user_details", {})),
    )


def _similarity(weights: dict[str, Any]) -> Similarity | None:
    """A length's neighbour similarity as ``blend.json`` holds it; a version written before asymmetry
    and locality holds only ``shrink`` (the cosine)."""
    if (raw := weights.get("similarity")) is not None:
        return Similarity(
            shrink=float(raw["shrink"]),
            asymmetry=float(raw.get("asymmetry", 0.5)),
            locality=float(raw.get("locality", 1.0)),
        )
    return None if weights.get("shrink") is None else Similarity(float(weights["shrink"]))


def ensure_blend(
    directory: Path,
    artifact: ModelArtifact,
    snapshot: Snapshot | Callable[[], Snapshot],
    **tune_kwargs: float,
) -> BlendParams:
    """The version's ``blend.json``, tuned and written first if absent.

    ``snapshot`` may be a callable (e.g. exporting from the store) so it is only built when needed.
    """
    existing = load_blend(directory)
    if existing is not None:
        return existing
    snap = snapshot() if callable(snapshot) else snapshot
    params = tune_blend(artifact, snap, **tune_kwargs)  # type: ignore[arg-type]
    save_blend(directory, params)
    logger.info(
        "tuned blend for %s: alpha=%.2f (%s %.4f)",
        directory.name,
        params.alpha,
        params.metric,
        params.grid[f"{params.alpha:g}"],
    )
    return params
