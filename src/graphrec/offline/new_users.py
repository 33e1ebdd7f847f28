"""New users: how well is a user the model has never seen served from their first interactions?

``graphrec evaluate --protocol new-users`` (:func:`run_new_users`), per seed:

1. **Users, not edges, are held out** (:func:`graphrec.evaluation.splits.new_user_split`): ``fraction``
   (20%, at most ``max_users``) of the users with at least ``max(lengths) + min_rest`` interactions
   (10 + 5), drawn with the seed. Everything below is fitted on the other users' edges only; a
   held-out user is as unknown to the model, the co-interaction index and the baselines as a visitor
   who arrived after training.
2. **A model version exactly as** ``graphrec train`` **makes one** from those edges
   (:func:`graphrec.model.pipeline.train`, without the gate's holdout): GraphSAGE, its tuned alpha,
   its item neighbours and its new-user weights, which :class:`NewUserBlendTuner` tunes on a
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

Rows: the API with the tuned new-user weights; the API as it was before them (the version's one alpha,
no prior, no item neighbours); its embedding side alone (alpha 1), its graph side alone (alpha 0) and
its item neighbours alone (alpha 0, gamma 1); the two baselines.
With several seeds a cell is the mean with a 95% interval, and the new-user blend is compared with each
baseline per n by paired tests over (seed, user) pairs.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from graphrec.clock import DAY_MS
from graphrec.evaluation.baselines import ItemKNN, MostPopular
from graphrec.evaluation.metrics import hit_matrix, ndcg_at_k, recall_at_k, top_k
from graphrec.evaluation.splits import NewUserSplit, new_user_split
from graphrec.evaluation.statistics import mean_interval, paired_comparison
from graphrec.graph.records import InteractionPage
from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import BlendParams, HistoryWeights, NewUserBlend, NewUserTuning
from graphrec.model.config import TrainConfig
from graphrec.model.item_neighbours import ItemNeighbours, Similarity
from graphrec.model.pipeline import PipelineConfig, train
from graphrec.model.state import ModelState, trained_at_ms
from graphrec.model.trainer import Trainer
from graphrec.progress import Mode, StepProgress
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
from graphrec.serving.holder import load_state
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)

BLEND = "API blend, weights by n (tuned)"
BEFORE = "API blend, one alpha (before)"
EMBEDDING = "API embedding side only (alpha 1)"
GRAPH = "API graph side only (alpha 0)"
NEIGHBOURS = "API item neighbours only (alpha 0, gamma 1)"
ITEM_KNN = "ItemKNN-from-history"
POPULAR = "MostPopular"
ROWS = (BLEND, BEFORE, EMBEDDING, GRAPH, NEIGHBOURS, ITEM_KNN, POPULAR)
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


def _validation_split(snapshot: Snapshot, tuning: NewUserTuning, seed: int) -> NewUserSplit:
    return new_user_split(
        snapshot,
        fraction=tuning.fraction,
        lengths=tuning.lengths,
        min_rest=tuning.min_rest,
        seed=seed,
        max_users=tuning.max_users,
    )


@dataclass(frozen=True)
class NewUserBlendTuner:
    """Tunes a version's new-user weights by the new-user protocol (a
    :class:`~graphrec.model.blend_tuning.NewUserTuner` for :func:`graphrec.model.pipeline.train`).

    Validation users (``tuning.fraction`` of the eligible users of the training snapshot, seeded with
    the training seed + 1) are held out of an auxiliary model trained like the version for the
    version's best epoch count. First the item neighbours' table (``neighbours``, ``shrink``) is chosen
    by ItemKNN-from-history's mean NDCG@k over the lengths on those users (within
    ``tuning.neighbour_entries``), and each length's :class:`Similarity` by :func:`choose_similarity`.
    Then each user's candidates are gathered once per n, through the API's :func:`gather_candidates`,
    and every ``(alpha, beta, gamma)`` of the grid ranks them with the API's :func:`rank_candidates`.

    The objective throughout is ``min(NDCG@k / NDCG_knn, Recall@k / Recall_knn)``, ``_knn`` being
    ItemKNN-from-history's on the same users at that n (ties: NDCG@k, Recall@k, the smaller beta, the
    larger alpha, the smaller gamma). The aim is a list better than ItemKNN's on both metrics: NDCG
    alone bought a few points at the top of the list with more of the list's recall (on MovieLens it
    chose the prior and lost 0.01-0.02 Recall@20 to ItemKNN at every n), and the sum of the two ratios
    still traded one for the other (at n = 1 a prior that cost recall on the test users).
    Then the one-standard-error rule, per metric: unless the winner beats the item neighbours alone
    (alpha 0, beta 0, gamma 1) on both NDCG and Recall by more than one standard error of the per-user
    differences, the neighbours alone are served (300 validation users are few; on MovieLens the
    winners' small validation gains turned into NDCG losses on the test users). The
    auxiliary model is needed because the version itself was trained on everyone: the users it would
    be tuned on are not new to it.
    """

    serving: ServingConfig

    def __call__(self, snapshot: Snapshot, config: TrainConfig, tuning: NewUserTuning, *, epochs: int) -> NewUserBlend:
        started = time.perf_counter()
        split = _validation_split(snapshot, tuning, config.seed + 1)
        knn_scores = item_knn_scores(split, tuning)
        chosen = {n: best_item_knn(knn_scores, [n]) for n in tuning.lengths}
        servable = [
            p
            for p in knn_scores
            if split.train.n_items * min(int(p[0]), split.train.n_items - 1) <= tuning.neighbour_entries
        ]
        served_params = best_item_knn({p: knn_scores[p] for p in servable}, tuning.lengths) if servable else None
        aux = config.model_copy(update={"epochs": epochs, "validation_fraction": 0.0})
        result = Trainer(aux, progress=False).fit(split.train)
        artifact = ModelArtifact.from_training(result, split.train, version="new-user-tuning", config=aux)
        neighbours = (
            None
            if served_params is None
            else ItemNeighbours.fit(
                split.train, neighbours=int(served_params["neighbours"]), shrink=served_params["shrink"]
            )
        )
        state = ModelState(
            version=artifact.version,
            directory=Path("."),
            artifact=artifact,
            blend=BlendParams(alpha=self.serving.default_alpha, source="grid"),
            trained_at_ms=trained_at_ms(artifact),
            neighbours=neighbours,
        )
        served = Served.build(state, split.train, self.serving)
        gammas = tuning.gammas if neighbours is not None else [0.0]
        lookup = split_lookup(split)
        weights: dict[int, HistoryWeights] = {}
        per_length: dict[str, dict[str, Any]] = {}
        for n in tuning.lengths:
            relevant = split.rest(n)
            ref_ndcg, ref_recall = (max(v, 1e-9) for v in knn_scores[_key(chosen[n])][n])
            similarity, similarity_record = (
                (None, {})
                if neighbours is None
                else choose_similarity(neighbours, split, n, reference=(ref_ndcg, ref_recall), tuning=tuning)
            )
            gathered = gather_new_users(served, split, n, k=tuning.k, similarity=similarity)
            objective = partial(
                _relative_metrics,
                served,
                gathered,
                lookup=lookup,
                relevant=relevant,
                reference=(ref_ndcg, ref_recall),
                k=tuning.k,
            )
            scored = []
            for alpha in tuning.alphas:
                for beta in tuning.betas:
                    for gamma in gammas:
                        rel = objective(HistoryWeights(alpha, beta, gamma, similarity))
                        scored.append((_smaller_ratio(rel), *_means(rel), -beta, alpha, -gamma, rel))
            _, _, _, neg_beta, alpha, neg_gamma, best_rel = max(scored, key=lambda t: t[:6])
            chosen_weights = HistoryWeights(alpha=alpha, beta=-neg_beta, gamma=-neg_gamma, similarity=similarity)
            record: dict[str, Any] = {}
            if neighbours is not None and chosen_weights != (plain := HistoryWeights(0.0, 0.0, 1.0, similarity)):
                # the one-standard-error rule, per metric: a mix must beat the item neighbours alone on both
                # metrics by more than the noise of these few users, or the simpler list is served
                plain_rel = objective(plain)
                record, beats = gains_over_neighbours(best_rel, plain_rel)
                if not beats:
                    chosen_weights, best_rel = plain, plain_rel
                    record["kept_neighbours_alone"] = True
            weights[n] = chosen_weights
            rel_ndcg, rel_recall = _means(best_rel)
            best_ndcg, best_recall = rel_ndcg * ref_ndcg, rel_recall * ref_recall
            per_length[str(n)] = {
                "alpha": chosen_weights.alpha,
                "beta": chosen_weights.beta,
                "gamma": chosen_weights.gamma,
                "similarity": None if similarity is None else asdict(similarity),
                f"ndcg@{tuning.k}": round(best_ndcg, 4),
                f"recall@{tuning.k}": round(best_recall, 4),
                f"item_knn_ndcg@{tuning.k}": round(ref_ndcg, 4),
                f"item_knn_recall@{tuning.k}": round(ref_recall, 4),
                **similarity_record,
                **record,
            }
        details = {
            "protocol": split.protocol,
            "users": split.n_users,
            "auxiliary_users": split.train.n_users,
            "auxiliary_epochs": epochs,
            "per_length": per_length,
            "metric": f"min(ndcg@{tuning.k}/item_knn, recall@{tuning.k}/item_knn)",
            "grid": {"alphas": list(tuning.alphas), "betas": list(tuning.betas), "gammas": list(gammas)},
            "item_knn": {str(n): p for n, p in chosen.items()},
            "item_neighbours": served_params or {},
            "seconds": round(time.perf_counter() - started, 2),
        }
        return NewUserBlend(weights=weights, details=details, neighbours=served_params or {})


def choose_similarity(
    table: ItemNeighbours, split: NewUserSplit, n: int, *, reference: tuple[float, float], tuning: NewUserTuning
) -> tuple[Similarity, dict[str, Any]]:
    """The item neighbours' :class:`Similarity` for histories of ``n``: every ``(shrink, asymmetry,
    locality)`` of the grid ranks ``split``'s held-out users from their first ``n`` items with the
    neighbours alone (:meth:`ItemNeighbours.score_history`), and the best
    ``min(NDCG@k / NDCG_knn, Recall@k / Recall_knn)`` wins (``reference``: ItemKNN-from-history's;
    ties: the earlier grid point, the cosine's side, less shrinkage).

    Why the smaller ratio: the point is a list better than ItemKNN's on *both* metrics. Chosen by the
    sum of the ratios, the similarities bought recall with NDCG on MovieLens's test users; by NDCG
    alone, NDCG with recall; by the smaller ratio they beat ItemKNN on both at n = 3, 5, 10 (3 seeds).
    ItemKNN's cosine is on the grid, so on these users the choice does at least as well as it (unless
    the table is pruned harder than ItemKNN's best); whether that holds on other users is what
    ``graphrec evaluate --protocol new-users`` measures."""
    fed, relevant = split.fed(n), split.rest(n)
    scored = []
    for rank, (shrink, asymmetry, locality) in enumerate(
        (h, a, q) for a in tuning.asymmetries for q in tuning.localities for h in ITEM_KNN_SHRINKS
    ):
        similarity = Similarity(shrink, asymmetry, locality)
        ranked = rank_from_history(partial(table.score_history, similarity=similarity), fed, k=tuning.k)
        recall, ndcg = per_user_metrics(ranked, relevant)
        value = min(float(ndcg.mean()) / reference[0], float(recall.mean()) / reference[1])
        scored.append((value, -rank, similarity, float(ndcg.mean()), float(recall.mean())))
    _, _, best, best_ndcg, best_recall = max(scored, key=lambda t: t[:2])
    return best, {
        f"neighbours_ndcg@{tuning.k}": round(best_ndcg, 4),
        f"neighbours_recall@{tuning.k}": round(best_recall, 4),
    }


def _relative_metrics(
    served: Served,
    gathered: list[Candidates],
    weights: HistoryWeights,
    *,
    lookup: dict[str, int],
    relevant: sp.csr_matrix,
    reference: tuple[float, float],
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per user ``(ndcg / ref_ndcg, recall / ref_recall)`` of ``weights``' lists."""
    recall, ndcg = per_user_metrics(rank_new_users(served, gathered, weights, lookup=lookup, k=k), relevant)
    return ndcg / reference[0], recall / reference[1]


def _means(rel: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    return float(rel[0].mean()), float(rel[1].mean())


def _smaller_ratio(rel: tuple[np.ndarray, np.ndarray]) -> float:
    """The tuner's objective: the smaller of mean NDCG and mean Recall, each relative to ItemKNN's."""
    return min(_means(rel))


def gains_over_neighbours(
    best: tuple[np.ndarray, np.ndarray], plain: tuple[np.ndarray, np.ndarray]
) -> tuple[dict[str, Any], bool]:
    """The mix's mean per-user gain over the item neighbours alone and its standard error, per metric
    (relative to ItemKNN's), and whether it beats them by more than one standard error on both."""
    record: dict[str, Any] = {}
    beats = True
    for name, mix, alone in zip(("ndcg", "recall"), best, plain, strict=True):
        gain = mix - alone
        se = float(gain.std(ddof=1) / np.sqrt(len(gain))) if len(gain) > 1 else 0.0
        record |= {f"{name}_gain_over_neighbours": round(float(gain.mean()), 4), f"{name}_gain_se": round(se, 4)}
        beats = beats and float(gain.mean()) > se
    return record, beats


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
    """Every ``(params, model)`` of the ItemKNN grid fitted on ``snapshot``: one fit per shrinkage,
    pruned to each neighbour count (:meth:`ItemKNN.pruned`)."""
    for shrink in ITEM_KNN_SHRINKS:
        model = ItemKNN(neighbours=max(ITEM_KNN_NEIGHBOURS), shrink=shrink)
        model.fit(snapshot)
        for neighbours in sorted(ITEM_KNN_NEIGHBOURS, reverse=True):  # each pruned from the last: fewer to sort
            model = model.pruned(neighbours)
            yield {"neighbours": neighbours, "shrink": shrink}, model


KnnKey = tuple[float, float]  # (neighbours, shrink)


def _key(params: dict[str, float]) -> KnnKey:
    return (float(params["neighbours"]), float(params["shrink"]))


def item_knn_scores(split: NewUserSplit, tuning: NewUserTuning) -> dict[KnnKey, dict[int, tuple[float, float]]]:
    """ItemKNN-from-history's ``(ndcg, recall)`` on ``split``'s held-out users, per grid point and n."""
    out: dict[KnnKey, dict[int, tuple[float, float]]] = {}
    for params, model in _item_knn_grid(split.train):
        row = out.setdefault(_key(params), {})
        for n in tuning.lengths:
            ranked = rank_from_history(model.score_history, split.fed(n), k=tuning.k)
            recall, ndcg = per_user_metrics(ranked, split.rest(n))
            row[n] = (float(ndcg.mean()), float(recall.mean()))
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
    scores = item_knn_scores(_validation_split(snapshot, tuning, seed), tuning)
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


@dataclass
class SeedResult:
    """One seed: per row and history length, the per-user recall and NDCG (held-out users in order)."""

    seed: int
    users: int
    per_user: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]
    blend: BlendParams
    item_knn: dict[int, dict[str, float]]
    seconds: float


def evaluate_seed(
    full: Snapshot,
    protocol: NewUserProtocol,
    train_config: TrainConfig,
    *,
    seed: int,
    serving: ServingConfig,
    models_path: Path,
    progress: Mode | bool = False,
) -> SeedResult:
    """Steps 1-4 of the module docstring for one seed; the version is written under ``models_path``."""
    started = time.perf_counter()
    split = new_user_split(
        full,
        fraction=protocol.fraction,
        lengths=protocol.lengths,
        min_rest=protocol.min_rest,
        seed=seed,
        max_users=protocol.max_users,
    )
    pipeline = PipelineConfig(
        name="new-users",
        holdout_fraction=0.0,
        new_users=protocol.tuning,
        train=train_config.model_copy(update={"seed": seed}),
    )
    shutil.rmtree(models_path / f"new-users-seed{seed}", ignore_errors=True)  # never a stale blend.json
    directory = train(
        pipeline,
        models_path=models_path,
        half_life_days=serving.half_life_days,
        snapshot=split.train,
        version=f"new-users-seed{seed}",
        progress=progress,
        new_users=NewUserBlendTuner(serving),
    )
    state = load_state(directory, default_alpha=serving.default_alpha)
    served = Served.build(state, split.train, serving)
    k = protocol.k
    rankers: dict[str, Callable[[int], np.ndarray]] = {
        BLEND: lambda n: serve_new_users(served, split, n, k=k),
        BEFORE: lambda n: serve_new_users(served.with_blend(replace(state.blend, new_users={})), split, n, k=k),
        EMBEDDING: lambda n: serve_new_users(served.with_blend(BlendParams(alpha=1.0, source="fixed")), split, n, k=k),
        GRAPH: lambda n: serve_new_users(served.with_blend(BlendParams(alpha=0.0, source="fixed")), split, n, k=k),
        NEIGHBOURS: lambda n: serve_new_users(
            served.with_blend(
                BlendParams(
                    alpha=0.0,
                    source="fixed",
                    new_users={
                        1: HistoryWeights(
                            alpha=0.0, gamma=1.0, similarity=state.blend.weights_for(n, new_user=True).similarity
                        )
                    },
                )
            ),
            split,
            n,
            k=k,
        ),
    }
    # the tuner chose ItemKNN's parameters per n on its validation users; a version without them is tuned here
    tuned_knn = state.blend.new_user_details.get("item_knn")
    knn_params = (
        {int(n): p for n, p in tuned_knn.items()}
        if tuned_knn and set(map(int, tuned_knn)) == set(protocol.tuning.lengths)
        else tune_item_knn(split.train, protocol.tuning, seed + 1)
    )
    knn = fit_item_knn(split.train, knn_params)
    popular = MostPopular()
    popular.fit(split.train)
    rankers[ITEM_KNN] = lambda n: rank_from_history(knn[n].score_history, split.fed(n), k=k)
    rankers[POPULAR] = lambda n: rank_from_history(popular.score_history, split.fed(n), k=k)
    per_user: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {name: {} for name in ROWS}
    for n in protocol.lengths:
        relevant = split.rest(n)
        for name in ROWS:
            per_user[name][n] = per_user_metrics(rankers[name](n), relevant)
    return SeedResult(
        seed=seed,
        users=split.n_users,
        per_user=per_user,
        blend=state.blend,
        item_knn=knn_params,
        seconds=round(time.perf_counter() - started, 1),
    )


def _columns(protocol: NewUserProtocol) -> list[tuple[str, int, int]]:
    """``(column name, metric position (0 recall, 1 ndcg), n)`` in table order."""
    k = protocol.k
    return [(f"{name}@{k} n={n}", metric, n) for n in protocol.lengths for metric, name in ((0, "recall"), (1, "ndcg"))]


def summarise(results: list[SeedResult], protocol: NewUserProtocol) -> list[dict[str, Any]]:
    """One row per model: each cell's mean over the seeds and (several seeds) its 95% half-width."""
    rows = []
    for name in ROWS:
        row: dict[str, Any] = {"model": name}
        for column, metric, n in _columns(protocol):
            mean, half = mean_interval([float(r.per_user[name][n][metric].mean()) for r in results])
            row[column] = mean
            if len(results) > 1:
                row[f"{column} ±"] = half
        rows.append(row)
    return rows


def comparisons(results: list[SeedResult], protocol: NewUserProtocol) -> list[dict[str, Any]]:
    """The tuned new-user blend against each baseline, per n and metric: paired over (seed, user)."""
    out = []
    for baseline in (ITEM_KNN, POPULAR):
        for column, metric, n in _columns(protocol):
            test = paired_comparison(
                BLEND,
                baseline,
                column,
                [r.per_user[BLEND][n][metric] for r in results],
                [r.per_user[baseline][n][metric] for r in results],
            )
            out.append({**test.as_dict(), "sentence": test.sentence()})
    return out


def markdown(rows: list[dict[str, Any]], protocol: NewUserProtocol) -> str:
    """Rows = models; columns = Recall@k and NDCG@k per history length (``mean ± half-width``)."""
    columns = _columns(protocol)
    head = ["model", *(f"{'R' if metric == 0 else 'NDCG'}@{protocol.k} n={n}" for _, metric, n in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        cells = [row["model"]]
        for column, _, _ in columns:
            half = row.get(f"{column} ±")
            cells.append(f"{row[column]:.4f}" + (f" ± {half:.4f}" if half is not None else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_new_users(
    full: Snapshot,
    protocol: NewUserProtocol,
    train_config: TrainConfig,
    *,
    seeds: list[int],
    serving: ServingConfig,
    output: Path,
    dataset: str,
    progress: Mode | bool = True,
) -> list[dict[str, Any]]:
    """Every seed's :func:`evaluate_seed`, then ``results.json`` (rows, per-seed rows, the tuned
    weights, the paired tests) and ``results.md`` (the table) in ``output``; returns the rows."""
    output.mkdir(parents=True, exist_ok=True)
    report = StepProgress(len(seeds), progress, desc="new-users")
    results = []
    for seed in seeds:
        result = evaluate_seed(
            full, protocol, train_config, seed=seed, serving=serving, models_path=output / "versions", progress=False
        )
        results.append(result)
        blend_row = summarise([result], protocol)[0]
        report.done(
            f"seed {seed}",
            ", ".join(f"{c} {blend_row[c]:.4f}" for c, m, _ in _columns(protocol) if m == 1),
            result.seconds,
        )
    report.close()
    rows = summarise(results, protocol)
    tests = comparisons(results, protocol)
    meta = {
        "dataset": dataset,
        "protocol": "new-users",
        "seeds": seeds,
        "config": protocol.model_dump(),
        "train": train_config.model_dump(),
        "serving": {
            "half_life_days": serving.half_life_days,
            "top_n": serving.candidates_per_source,
            "seed_items": serving.traversal.seed_items,
            "fanout": serving.traversal.fanout,
            "co_items": serving.traversal.co_items,
        },
        "held_out_users": {str(r.seed): r.users for r in results},
        "new_user_weights": {
            str(r.seed): {str(n): asdict(w) for n, w in sorted(r.blend.new_users.items())} for r in results
        },
        "one_alpha": {str(r.seed): r.blend.alpha for r in results},
        "tuning": {str(r.seed): r.blend.new_user_details for r in results},
        "item_knn_params": {str(r.seed): {str(n): p for n, p in r.item_knn.items()} for r in results},
        "seconds": {str(r.seed): r.seconds for r in results},
        "per_seed": {str(r.seed): summarise([r], protocol) for r in results},
        "paired_tests": tests,
    }
    (output / "results.json").write_text(json.dumps({"results": rows, "meta": meta}, indent=2, default=float))
    seed_text = f"seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"
    lines = [
        f"# New users: {dataset} ({seed_text}; {', '.join(str(r.users) for r in results)} held-out users)",
        "",
        markdown(rows, protocol),
        "",
        "Tuned new-user weights (alpha = embedding share of the personal "
        "part, beta = popularity prior, gamma = item neighbours' share of the graph part), per seed:",
        "",
    ]
    for r in results:
        lines.append(
            f"- seed {r.seed}: " + "; ".join(f"n={n}: {w.describe()}" for n, w in sorted(r.blend.new_users.items()))
        )
    if tests:
        lines += ["", "Paired tests (new-user blend minus baseline):", ""]
        lines += [f"- {t['sentence']}" for t in tests]
    (output / "results.md").write_text("\n".join(lines) + "\n")
    return rows
