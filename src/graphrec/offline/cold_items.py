"""The cold-item protocol (``graphrec evaluate --protocol cold-items``): items nobody has touched yet.

Per seed:

1. hold out a seeded ``fraction`` of the items with all their edges
   (:func:`graphrec.evaluation.splits.cold_item_split`): the training snapshot is what an export would
   give had they never been touched, so neither the model nor the text vectoriser sees them;
2. train GraphSAGE on it exactly as ``graphrec train`` builds a version (:class:`ModelArtifact` from the
   trainer: content features, the content map fitted on the version's own embeddings);
3. give the held-out items their embeddings from title and categories alone, as serving does for an
   item a catalogue upsert describes (:meth:`ModelArtifact.embed_content`), and rank *the held-out items*
   for every training user who interacted with one: Recall@k and NDCG@k of their held-out items;
4. rank the same items the other ways (:data:`ROWS`): features through the trained layers with no
   neighbours (the other inductive path, :func:`graphrec.model.content_map.through_layers`), content
   cosine and text cosine (each user's profile: the sum of their training items' unit TF-IDF, plus
   categories, vectors; the vectoriser fitted on the training catalogue), popularity by category (a cold
   item scored by the mean training degree of its categories' items) and, as a reference only, the
   held-out items' own popularity (their held-out degree: an oracle no serving system has).

Why rank among the held-out items only: against the whole catalogue every trained item's collaborative
signal would crowd a content-only vector out, and the question is how well each method orders items
that have no interactions at all (the convention of cold-start papers such as DropoutNet).

Several seeds: means with 95% intervals, and the served row tested against every other one
(:func:`graphrec.evaluation.statistics.compare_against_all`; each seed holds out other items and so
other users, so the test runs over the seeds' mean differences; one seed: Wilcoxon over users).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from sklearn.preprocessing import normalize

from graphrec.evaluation.metrics import ranking_metrics, top_k
from graphrec.evaluation.report import markdown_table
from graphrec.evaluation.splits import ColdItemSplit, cold_item_split
from graphrec.evaluation.statistics import compare_against_all, comparison_table, mean_interval
from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import TrainConfig
from graphrec.model.content import ContentEncoder
from graphrec.model.content_map import through_layers
from graphrec.model.trainer import Trainer
from graphrec.progress import Mode, StepProgress
from graphrec.snapshot import Snapshot

SERVED = "GraphSAGE + content map (served)"
LAYERS = "GraphSAGE, features through layers"
CONTENT = "Content cosine (title TF-IDF + categories)"
TEXT = "Text cosine (title TF-IDF)"
CATEGORY_POPULAR = "Popularity by category"
ORACLE_POPULAR = "Popularity of the held-out items (oracle)"
ROWS = (SERVED, LAYERS, CONTENT, TEXT, CATEGORY_POPULAR, ORACLE_POPULAR)


class ColdItemProtocol(BaseModel):
    """What ``--protocol cold-items`` holds out."""

    model_config = ConfigDict(extra="forbid")

    fraction: float = Field(0.2, gt=0, lt=1, description="share of the items held out with all their edges")


@dataclass
class SeedResult:
    """One seed: per row the per-user recall and NDCG at every k (users in ``user_ids``' order)."""

    seed: int
    user_ids: np.ndarray
    per_user: dict[str, dict[str, np.ndarray]]
    facts: dict[str, Any]


def _profiles(train: Snapshot, item_vectors: sp.csr_matrix | np.ndarray, users: np.ndarray) -> np.ndarray:
    """Each user's content profile: the sum of their training items' unit vectors."""
    unit = normalize(sp.csr_matrix(item_vectors), norm="l2")
    ones = train.matrix("ones")[users]
    profile: np.ndarray = np.asarray((ones @ unit).todense(), dtype=np.float32)
    return profile


def _cosine_scores(train: Snapshot, warm: sp.csr_matrix, cold: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    """``(users, cold items)``: profile (summed unit vectors of the user's items) dotted with each cold
    item's unit vector: the ranking of summed cosines to the user's items."""
    scores: np.ndarray = (
        _profiles(train, warm, users)
        @ np.asarray(normalize(sp.csr_matrix(cold), norm="l2").todense(), dtype=np.float32).T
    )
    return scores


def _content_vectors(encoder: ContentEncoder, titles: list[str], categories: list[tuple[str, ...]]) -> sp.csr_matrix:
    """Unit TF-IDF beside unit category multi-hot, equally weighted."""
    text = encoder.tfidf(titles)
    cats = normalize(encoder.category_matrix(categories), norm="l2")
    return sp.csr_matrix(sp.hstack([text, cats]))


def _category_popularity(train: Snapshot, encoder: ContentEncoder, categories: list[tuple[str, ...]]) -> np.ndarray:
    """A cold item's score: the mean, over its categories, of the mean training degree of their items
    (items without a known category: the overall mean degree)."""
    degree = np.bincount(train.indices, minlength=train.n_items).astype(np.float64)
    member = train.item_category_matrix().tocsc()
    per_category = np.asarray(member.T @ degree).ravel() / np.maximum(np.diff(member.indptr), 1)
    cold = encoder.category_matrix(categories)
    n = np.asarray(cold.sum(1)).ravel()
    summed = np.asarray(cold @ per_category).ravel()
    out: np.ndarray = np.where(n > 0, summed / np.maximum(n, 1), degree.mean())
    return out


def _metrics(scores: np.ndarray, relevant: sp.csr_matrix, ks: list[int], n_users: int) -> dict[str, np.ndarray]:
    """Per-user recall and NDCG at every k of the ranking ``scores`` (users x cold items)."""
    topk = top_k(np.array(scores, dtype=np.float32), max(ks))
    popularity = np.asarray(relevant.sum(0)).ravel()
    out: dict[str, np.ndarray] = {}
    for k in ks:
        per_user: dict[str, np.ndarray] = {}
        ranking_metrics(topk, relevant, k=k, item_popularity=popularity, n_users_train=n_users, per_user=per_user)
        out.update(per_user)
    return out


def evaluate_seed(
    full: Snapshot, protocol: ColdItemProtocol, train_config: TrainConfig, *, seed: int, ks: list[int]
) -> SeedResult:
    """Steps 1-4 of the module docstring for one seed."""
    started = time.perf_counter()
    split: ColdItemSplit = cold_item_split(full, fraction=protocol.fraction, seed=seed)
    train = split.train
    config = train_config.model_copy(update={"seed": seed, "validation_protocol": "random"})
    fit_started = time.perf_counter()
    result = Trainer(config, progress=False).fit(train)
    artifact = ModelArtifact.from_training(result, train, version=f"cold-items-seed{seed}", config=config)
    fit_seconds = time.perf_counter() - fit_started
    if artifact.content is None:
        raise ValueError("the data set gives its items no titles or categories: no content to place cold items by")
    encoder = artifact.content.encoder
    titles, categories = split.cold_titles.tolist(), split.cold_categories
    users = split.test_users
    relevant = split.test[users]
    user_vectors = artifact.user_embeddings[users]
    cold_features = encoder.features(titles, categories)
    warm_categories = [
        tuple(train.category_names[c].tolist())
        for c in np.split(train.item_category_matrix().indices, train.item_category_matrix().indptr[1:-1])
    ]
    scores: dict[str, np.ndarray] = {
        SERVED: user_vectors @ artifact.content.map(cold_features).T,
        LAYERS: user_vectors @ through_layers(artifact.model, cold_features).T,
        CONTENT: _cosine_scores(
            train,
            _content_vectors(encoder, train.titles.tolist(), warm_categories),
            _content_vectors(encoder, titles, categories),
            users,
        ),
        TEXT: _cosine_scores(train, encoder.tfidf(train.titles.tolist()), encoder.tfidf(titles), users),
        CATEGORY_POPULAR: np.broadcast_to(_category_popularity(train, encoder, categories), relevant.shape),
        ORACLE_POPULAR: np.broadcast_to(np.asarray(split.test.sum(0)).ravel(), relevant.shape),
    }
    per_user = {name: _metrics(scores[name], relevant, ks, train.n_users) for name in ROWS}
    facts = {
        "cold_items": len(split.cold_ids),
        "warm_items": train.n_items,
        "users": len(users),
        "dropped_users": split.dropped_users,
        "held_out_edges": int(relevant.nnz),
        "train_edges": train.n_edges,
        "text_terms": len(encoder.terms),
        "text_dim": encoder.text_dim,
        "map_l2": artifact.content.map.l2,
        "best_epoch": result.best_epoch,
        "fit_seconds": round(fit_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return SeedResult(seed=seed, user_ids=train.user_ids[users], per_user=per_user, facts=facts)


def summarise(results: list[SeedResult], ks: list[int]) -> list[dict[str, Any]]:
    """One row per ranking: each metric's mean over the seeds and (several seeds) its 95% half-width."""
    rows = []
    for name in ROWS:
        row: dict[str, Any] = {"model": name}
        for k in ks:
            for metric in (f"recall@{k}", f"ndcg@{k}"):
                mean, half = mean_interval([float(r.per_user[name][metric].mean()) for r in results])
                row[metric] = mean
                if len(results) > 1:
                    row[f"{metric} ±"] = half
        rows.append(row)
    return rows


def run_cold_items(
    full: Snapshot,
    protocol: ColdItemProtocol,
    train_config: TrainConfig,
    *,
    seeds: list[int],
    ks: list[int],
    output: Path,
    dataset: str,
    progress: Mode | bool = True,
) -> list[dict[str, Any]]:
    """Every seed's :func:`evaluate_seed`, then ``results.json`` and ``results.md`` in ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    report = StepProgress(len(seeds), progress, desc="cold-items")
    results = []
    k = ks[0]
    for seed in seeds:
        result = evaluate_seed(full, protocol, train_config, seed=seed, ks=ks)
        results.append(result)
        served = result.per_user[SERVED]
        report.done(
            f"seed {seed}",
            f"served recall@{k} {served[f'recall@{k}'].mean():.4f}  ndcg@{k} {served[f'ndcg@{k}'].mean():.4f}",
            result.facts["seconds"],
        )
    report.close()
    rows = summarise(results, ks)
    users = [r.user_ids for r in results]
    tests = [
        test
        for metric in (f"recall@{k}", f"ndcg@{k}")
        for test in compare_against_all(
            SERVED, metric, {n: [r.per_user[n][metric] for r in results] for n in ROWS}, users=users
        )
    ]
    meta = {
        "dataset": dataset,
        "protocol": f"cold-items:{protocol.fraction}",
        "seeds": seeds,
        "config": protocol.model_dump(),
        "train": train_config.model_dump(),
        "per_seed": {str(r.seed): r.facts for r in results},
        "paired_tests": [{**t.as_dict(), "sentence": t.sentence()} for t in tests],
    }
    (output / "results.json").write_text(json.dumps({"results": rows, "meta": meta}, indent=2, default=float))
    facts = results[0].facts
    seed_text = f"seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"
    lines = [
        f"# Cold items: {dataset} ({seed_text}; {protocol.fraction:g} of the items held out with all their edges)",
        "",
        f"Seed {results[0].seed}: {facts['cold_items']} held-out items ranked for {facts['users']} users "
        f"({facts['held_out_edges']} held-out edges; {facts['dropped_users']} users had only held-out items), "
        f"{facts['warm_items']} items trained on; vectoriser: {facts['text_terms']} terms -> {facts['text_dim']} "
        f"dimensions; content map L2 {facts['map_l2']:.3g}.",
        "",
        markdown_table(rows),
        "",
        comparison_table(tests),
    ]
    (output / "results.md").write_text("\n".join(lines) + "\n")
    return rows
