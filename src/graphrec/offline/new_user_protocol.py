"""The new-user protocol: how well is a user the model has never seen served from their first interactions?

Who is held out, what they are fed, how they are served (through the API's own code) and how they are
scored, with the ItemKNN-from-history baseline fed the same items. Per seed:

1. **Users, not edges, are held out** (:func:`graphrec.evaluation.splits.new_user_split`): ``fraction``
   (20%, at most ``max_users``) of the users with at least ``max(lengths) + min_rest`` interactions
   (10 + 5), drawn with the seed. Everything below is fitted on the other users' edges only; a
   held-out user is as unknown to the model, the co-interaction index and the baselines as a visitor
   who arrived after training.
2. **A model version exactly as** ``graphrec train`` **makes one** from those edges
   (:func:`graphrec.model.pipeline.train`, without the gate's holdout): GraphSAGE, its tuned alpha,
   its item neighbours and its new-user weights, which
   :class:`~graphrec.offline.new_user_tuner.NewUserBlendTuner` tunes on a
   validation split of the *training* users (an auxiliary model is trained without them); the
   held-out users are never seen by any fitting or tuning. Serving's own loader reads the version back
   (``graphrec.serving.holder.load_state``).
3. **Each held-out user's first n interactions** (by timestamp; n = 1, 3, 5, 10) are their live
   history, passed to :func:`graphrec.recommend.ranking.recommend_for_user`, the function the API
   answers with: the inductive embedding (``ModelArtifact.infer_user``) searched in the version's ANN
   index, the version's item neighbours, the capped traversal over a co-interaction index built
   from the training edges with the API's caps and decay (``Settings``), the blend with the
   version's weights, and the API's filters. The 20 items it serves are scored against the user's
   later interactions (Recall@20, NDCG@20); the n fed items are never scored, as the API never
   serves seen items.
4. **Baselines fed the same n items**: ItemKNN-from-history (item-item cosine learned on the training
   users, its neighbours and shrinkage tuned per n on the same validation users as the blend) and
   MostPopular (training popularity), each ranking the whole catalogue minus the n items.

Where the rest lives: :mod:`graphrec.offline.new_user_tuner` tunes a version's new-user weights by this
protocol on validation users (``graphrec train`` uses it), and :mod:`graphrec.offline.new_user_report`
runs steps 1-4 per seed (``evaluate_seed``) and writes the report (``graphrec evaluate --protocol
new-users``). This module is the bottom of the three: the tuner ranks validation users through the
serving path here, and a seed's evaluation trains its version with the tuner, so imports run
protocol <- tuner <- report and never back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from graphrec.clock import DAY_MS
from graphrec.evaluation.baselines import ItemKNN
from graphrec.evaluation.metrics import hit_matrix, ndcg_at_k, recall_at_k, top_k
from graphrec.evaluation.splits import NewUserSplit, new_user_split
from graphrec.graph.records import InteractionPage
from graphrec.model.blend_tuning import BlendParams, HistoryWeights, NewUserTuning
from graphrec.model.item_neighbours import Similarity
from graphrec.model.state import ModelState
from graphrec.recommend.cograph import CoInteractionIndex
from graphrec.recommend.popular import CatalogView, rank_trending
from graphrec.recommend.ranking import (
    Candidates,
    RecRequest,
    RecResult,
    UserInputs,
    gather_candidates,
    rank_candidates,
    recommend_for_user,
)
from graphrec.recommend.serving_config import ServingConfig
from graphrec.snapshot import Snapshot

# ItemKNN's grid for new users reaches further than the runner's (50-400 neighbours, shrinkage 0-50):
# from a short history the widest, most shrunk corner of that grid won on both data sets, and a
# baseline tuned at the edge of its grid is not tuned. Shrinkage 1e6 is the limit of the cosine (raw
# co-occurrence counts); 1,600 neighbours is all of ML-100K's items, and on the 37,590-item synthetic
# set 3,200 or 6,400 changed its validation scores by less than 0.001.
ITEM_KNN_NEIGHBOURS = (50, 200, 800, 1600)
ITEM_KNN_SHRINKS = (0.0, 10.0, 100.0, 1000.0, 1e6)


class NewUserProtocol(BaseModel):
    """Who is held out as a new user and what they are fed (``EvalConfig.new_users``)."""

    model_config = ConfigDict(extra="forbid")

    fraction: float = Field(0.2, gt=0, lt=1, description="share of the eligible users held out")
    max_users: int = Field(2_000, ge=1, description="at most this many held-out users")
    lengths: list[int] = Field(
        default_factory=lambda: [1, 3, 5, 10], min_length=1, description="history lengths n fed to every model"
    )
    min_rest: int = Field(
        5, ge=1, description="interactions each held-out user has left to find after the longest history"
    )
    k: int = Field(20, ge=1, description="list length of Recall@k and NDCG@k")
    tuning: NewUserTuning = Field(
        default_factory=NewUserTuning,
        description="how the version's new-user "
        "weights (and ItemKNN's hyperparameters) are tuned on the training users",
    )


@dataclass(frozen=True)
class Served:
    """What the API holds while it answers: a loaded version, the co-interaction index and the
    catalogue view, here built from a training snapshot instead of read from a store."""

    state: ModelState
    cograph: CoInteractionIndex
    view: CatalogView
    serving: ServingConfig
    now_ms: int

    @classmethod
    def build(cls, state: ModelState, train_snapshot: Snapshot, serving: ServingConfig) -> Served:
        """The index and the view of ``train_snapshot``'s edges, as the API builds them from the store's
        (weights as stored; the trending view as of the newest edge)."""
        edges = InteractionPage(
            train_snapshot.user_ids[train_snapshot.rows],
            train_snapshot.item_ids[train_snapshot.indices],
            train_snapshot.weights.astype(np.float64),
            train_snapshot.timestamps,
        )
        now_ms = int(edges.last_ts.max()) if len(edges.last_ts) else 0
        cograph = CoInteractionIndex.from_arrays(
            edges.user_ids,
            edges.item_ids,
            edges.weights,
            built_at_ms=now_ms,
            fanout=serving.traversal.fanout,
            co_items=serving.traversal.co_items,
        )
        cats = train_snapshot.item_category_matrix().tocsr()
        names = train_snapshot.category_names
        categories = {
            item: tuple(names[cats.indices[cats.indptr[i] : cats.indptr[i + 1]]].tolist())
            for i, item in enumerate(train_snapshot.item_ids.tolist())
        }
        # the trending view as the API builds it right after the newest edge: that window's edges, ranked
        # by the API's rule (the window is never empty here, so its fallback to all edges is not needed)
        recent = edges.last_ts >= now_ms - int(serving.window_days * DAY_MS)
        in_window = InteractionPage(
            edges.user_ids[recent], edges.item_ids[recent], edges.weights[recent], edges.last_ts[recent]
        )
        ranked, by_cat = rank_trending(
            in_window, as_of=now_ms, half_life_days=serving.half_life_days, categories=categories
        )
        view = CatalogView(
            categories=categories,
            category_names=frozenset(names.tolist()),
            popular=tuple(ranked[:2_000]),
            built_ms=now_ms,
            popular_by_category={c: tuple(v) for c, v in by_cat.items()},
        )
        return cls(state=state, cograph=cograph, view=view, serving=serving, now_ms=now_ms)

    def with_blend(self, blend: BlendParams) -> Served:
        return replace(self, state=replace(self.state, blend=blend))


def serve_new_users(served: Served, split: NewUserSplit, n: int, *, k: int) -> np.ndarray:
    """``(held-out users, k)`` item indices the API serves each held-out user from their first ``n``
    interactions, best first (``-1`` pads a shorter list): one :func:`recommend_for_user` call each."""
    serving = served.serving
    return _item_rows(
        (
            recommend_for_user(
                RecRequest(user_id=str(split.user_ids[row]), k=k),
                UserInputs(split.history(row, n)),
                state=served.state,
                view=served.view,
                config=serving,
                cograph=served.cograph,
                now_ms=served.now_ms,
            )
            for row in range(split.n_users)
        ),
        split.n_users,
        lookup=split_lookup(split),
        k=k,
    )


def split_lookup(split: NewUserSplit) -> dict[str, int]:
    """Item id to its index in ``split``'s training snapshot (the index the metrics score)."""
    return {item: i for i, item in enumerate(split.train.item_ids.tolist())}


def _item_rows(results: Iterable[RecResult], n_rows: int, *, lookup: dict[str, int], k: int) -> np.ndarray:
    """``(n_rows, k)`` item indices of each result's items, best first; ``-1`` pads a shorter list."""
    out = np.full((n_rows, k), -1, dtype=np.int64)
    for row, result in enumerate(results):
        ids = [lookup[item.item_id] for item in result.items]
        out[row, : len(ids)] = ids
    return out


def rank_from_history(
    score: Callable[[sp.csr_matrix], np.ndarray], fed: sp.csr_matrix, *, k: int, cells: int = 16_000_000
) -> np.ndarray:
    """The top ``k`` for each row of ``fed`` (the fed items) by ``score`` (a model's ``score_history``:
    fed rows to dense scores), the fed items left out. Rows are scored in chunks of at most ``cells``
    dense scores (128 MB as float64): 300 users of a million-item catalogue at once would be 2.4 GB,
    and the similarity grid scores them 90 times per history length."""
    rows = max(1, cells // max(fed.shape[1], 1))
    tops = [top_k(score(fed[i : i + rows]), k, exclude=fed[i : i + rows]) for i in range(0, fed.shape[0], rows)]
    return np.concatenate(tops) if tops else np.zeros((0, k), dtype=np.int64)


def per_user_metrics(ranked: np.ndarray, relevant: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Per-user ``(recall, ndcg)`` of ``ranked`` item indices (``-1`` = nothing served at that rank)."""
    hits = hit_matrix(np.maximum(ranked, 0), relevant) & (ranked >= 0)
    n_relevant = np.diff(relevant.tocsr().indptr).astype(np.float64)
    return recall_at_k(hits, n_relevant), ndcg_at_k(hits, n_relevant)


def validation_split(snapshot: Snapshot, tuning: NewUserTuning, seed: int) -> NewUserSplit:
    """The validation users of ``snapshot`` (its own users, split as ``tuning`` says): where the new-user
    weights and ItemKNN's hyperparameters are chosen, so the held-out test users never are."""
    return new_user_split(
        snapshot,
        fraction=tuning.fraction,
        lengths=tuning.lengths,
        min_rest=tuning.min_rest,
        seed=seed,
        max_users=tuning.max_users,
    )


def gather_new_users(
    served: Served, split: NewUserSplit, n: int, *, k: int, similarity: Similarity | None = None
) -> list[Candidates]:
    """Each held-out user's candidates from their first ``n`` interactions, item neighbours included
    (scored with ``similarity``) (:func:`gather_candidates`, as :func:`recommend_for_user` gathers them)."""
    serving = served.serving
    return [
        gather_candidates(
            RecRequest(user_id=str(split.user_ids[row]), k=k),
            UserInputs(split.history(row, n)),
            state=served.state,
            config=serving,
            cograph=served.cograph,
            now_ms=served.now_ms,
            neighbours=True,
            similarity=similarity,
        )
        for row in range(split.n_users)
    ]


def rank_new_users(
    served: Served, gathered: list[Candidates], weights: HistoryWeights, *, lookup: dict[str, int], k: int
) -> np.ndarray:
    """``(users, k)`` item indices (``lookup``: id to the split's index; ``-1`` pads) of
    :func:`rank_candidates` over ``gathered`` with ``weights``."""
    return _item_rows(
        (
            rank_candidates(
                RecRequest(user_id="", k=k), cands, weights, state=served.state, view=served.view, now_ms=served.now_ms
            )
            for cands in gathered
        ),
        len(gathered),
        lookup=lookup,
        k=k,
    )


def _item_knn_grid(snapshot: Snapshot) -> Iterator[tuple[dict[str, float], ItemKNN]]:
    """Every ``(params, model)`` of the ItemKNN grid fitted on ``snapshot``, sharing one co-occurrence
    product (:meth:`ItemKNN.grid`)."""
    for model in ItemKNN.grid(snapshot, neighbours=ITEM_KNN_NEIGHBOURS, shrinks=ITEM_KNN_SHRINKS):
        yield {"neighbours": model.neighbours, "shrink": model.shrink}, model


KnnKey = tuple[float, float]  # (neighbours, shrink)


def knn_key(params: dict[str, float]) -> KnnKey:
    """The grid point of ``params`` as a dictionary key."""
    return (float(params["neighbours"]), float(params["shrink"]))


ITEM_KNN_POINTS = len(ITEM_KNN_NEIGHBOURS) * len(ITEM_KNN_SHRINKS)  # what item_knn_scores reports on


def item_knn_scores(
    split: NewUserSplit, tuning: NewUserTuning, *, on_point: Callable[[str, str], None] | None = None
) -> dict[KnnKey, dict[int, tuple[float, float]]]:
    """ItemKNN-from-history's ``(ndcg, recall)`` on ``split``'s held-out users, per grid point and n
    (``on_point(point, summary)`` after each of the :data:`ITEM_KNN_POINTS`: progress)."""
    out: dict[KnnKey, dict[int, tuple[float, float]]] = {}
    for params, model in _item_knn_grid(split.train):
        row = out.setdefault(knn_key(params), {})
        for n in tuning.lengths:
            ranked = rank_from_history(model.score_history, split.fed(n), k=tuning.k)
            recall, ndcg = per_user_metrics(ranked, split.rest(n))
            row[n] = (float(ndcg.mean()), float(recall.mean()))
        if on_point is not None:
            on_point(
                f"ItemKNN neighbours={params['neighbours']}, shrink={params['shrink']:g}",
                f"ndcg@{tuning.k} {np.mean([v[0] for v in row.values()]):.4f}",
            )
    return out


def best_item_knn(scores: dict[KnnKey, dict[int, tuple[float, float]]], lengths: list[int]) -> dict[str, float]:
    """The grid point with the best mean NDCG over ``lengths``, then mean Recall (ties: the earlier
    grid point: fewer neighbours, less shrinkage)."""
    grid = sorted(scores, key=lambda key: (ITEM_KNN_SHRINKS.index(key[1]), key[0]))

    def rank(key: KnnKey) -> tuple[float, float, int]:
        return (
            float(np.mean([scores[key][n][0] for n in lengths])),
            float(np.mean([scores[key][n][1] for n in lengths])),
            -grid.index(key),
        )

    neighbours, shrink = max(grid, key=rank)
    return {"neighbours": int(neighbours), "shrink": shrink}


def tune_item_knn(snapshot: Snapshot, tuning: NewUserTuning, seed: int) -> dict[int, dict[str, float]]:
    """ItemKNN's neighbours and shrinkage per history length, chosen like the new-user weights: on the
    same validation users (``seed`` = the training seed + 1), by NDCG@k then Recall@k."""
    scores = item_knn_scores(validation_split(snapshot, tuning, seed), tuning)
    return {n: best_item_knn(scores, [n]) for n in tuning.lengths}


def fit_item_knn(snapshot: Snapshot, chosen: dict[int, dict[str, float]]) -> dict[int, ItemKNN]:
    """The chosen ItemKNN of every history length, fitted on ``snapshot`` (one fit per shrinkage)."""
    models: dict[int, ItemKNN] = {}
    for shrink in sorted({params["shrink"] for params in chosen.values()}):
        lengths = [n for n, params in chosen.items() if params["shrink"] == shrink]
        base = ItemKNN(neighbours=int(max(chosen[n]["neighbours"] for n in lengths)), shrink=shrink)
        base.fit(snapshot)
        for n in lengths:
            models[n] = base.pruned(int(chosen[n]["neighbours"]))
    return models
