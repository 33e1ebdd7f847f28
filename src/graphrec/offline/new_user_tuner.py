"""The train-time tuner of the new-user blend: a version's weights by history length, chosen by the
new-user protocol on validation users.

``graphrec train`` (and the demo) pass :class:`NewUserBlendTuner` to :func:`graphrec.model.pipeline.train`,
which saves what it chooses in the version's ``blend.json``; serving applies it to users the model has
never seen. It ranks validation users through the protocol's serving path
(:mod:`graphrec.offline.new_user_protocol`), so what it tunes is what the API serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from graphrec.evaluation.splits import NewUserSplit
from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import BlendParams, HistoryWeights, NewUserBlend, NewUserTuning
from graphrec.model.config import TrainConfig
from graphrec.model.item_neighbours import ItemNeighbours, Similarity
from graphrec.model.state import ModelState, trained_at_ms
from graphrec.model.trainer import Trainer
from graphrec.offline.new_user_protocol import (
    ITEM_KNN_POINTS,
    ITEM_KNN_SHRINKS,
    Served,
    best_item_knn,
    gather_new_users,
    item_knn_scores,
    knn_key,
    per_user_metrics,
    rank_from_history,
    rank_new_users,
    split_lookup,
    validation_split,
)
from graphrec.progress import Mode, StepProgress
from graphrec.recommend.ranking import Candidates
from graphrec.recommend.serving_config import ServingConfig
from graphrec.snapshot import Snapshot


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
    progress: Mode | bool = False

    def __call__(self, snapshot: Snapshot, config: TrainConfig, tuning: NewUserTuning, *, epochs: int) -> NewUserBlend:
        """The weights per history length (the class docstring says how). With ``progress``, a line at
        least every 10 s off a terminal (a bar on one) says where the run is and its ETA, per phase,
        since their steps differ in cost (an ETA at the mean pace of all of them said 15 min for what
        took 3): the ItemKNN grid, the auxiliary model (announced, then its own epoch lines), then
        each length's similarities and weights."""
        started = time.perf_counter()
        knn = StepProgress(ITEM_KNN_POINTS, self.progress, desc="new-user tuning: ItemKNN grid", every_step=False)
        split = validation_split(snapshot, tuning, config.seed + 1)
        knn_scores = item_knn_scores(split, tuning, on_point=_Stepper(knn))
        chosen = {n: best_item_knn(knn_scores, [n]) for n in tuning.lengths}
        servable = [
            p
            for p in knn_scores
            if split.train.n_items * min(int(p[0]), split.train.n_items - 1) <= tuning.neighbour_entries
        ]
        served_params = best_item_knn({p: knn_scores[p] for p in servable}, tuning.lengths) if servable else None
        aux = config.model_copy(update={"epochs": epochs, "validation_fraction": 0.0})
        knn.note(f"new-user tuning: auxiliary model without the {split.n_users:,} validation users, {epochs} epochs")
        knn.close()
        result = Trainer(aux, progress=self.progress).fit(split.train)
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
        similarities = 0 if neighbours is None else similarity_points(tuning)
        steps_per_length = similarities + 1 + len(tuning.alphas) * len(tuning.betas) * len(gammas)
        report = StepProgress(
            len(tuning.lengths) * steps_per_length, self.progress, desc="new-user tuning: weights", every_step=False
        )
        step = _Stepper(report)
        lookup = split_lookup(split)
        weights: dict[int, HistoryWeights] = {}
        per_length: dict[str, dict[str, Any]] = {}
        for n in tuning.lengths:
            relevant = split.rest(n)
            ref_ndcg, ref_recall = (max(v, 1e-9) for v in knn_scores[knn_key(chosen[n])][n])
            similarity, similarity_record = (
                (None, {})
                if neighbours is None
                else choose_similarity(
                    neighbours, split, n, reference=(ref_ndcg, ref_recall), tuning=tuning, on_point=step
                )
            )
            gathered = gather_new_users(served, split, n, k=tuning.k, similarity=similarity)
            step(f"n={n} candidates gathered", f"{split.n_users:,} users")
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
                        step(f"n={n} alpha={alpha}, beta={beta}, gamma={gamma}", f"{_smaller_ratio(rel):.4f}")
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
        report.close()
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


class _Stepper:
    """``step(name, summary)``: one finished step of a tuning run, timed since the previous one."""

    def __init__(self, report: StepProgress) -> None:
        self.report = report
        self.last = time.perf_counter()

    def __call__(self, name: str, summary: str) -> None:
        now = time.perf_counter()
        self.report.done(name, summary, now - self.last)
        self.last = now


def similarity_points(tuning: NewUserTuning) -> int:
    """How many similarities :func:`choose_similarity` tries per history length."""
    return len(tuning.asymmetries) * len(tuning.localities) * len(ITEM_KNN_SHRINKS)


def choose_similarity(
    table: ItemNeighbours,
    split: NewUserSplit,
    n: int,
    *,
    reference: tuple[float, float],
    tuning: NewUserTuning,
    on_point: Callable[[str, str], None] | None = None,
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
        if on_point is not None:
            on_point(f"n={n} similarity shrink={shrink:g}, a={asymmetry}, q={locality}", f"{value:.4f}")
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
