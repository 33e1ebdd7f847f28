"""Is a candidate model better than the one being served? Measured, not assumed, before publishing.

At train time (``PipelineConfig.holdout_fraction``) each user's newest interactions are held out of
the candidate's training data and saved with the version (``holdout.npz``: the held-out pairs and
the training pairs, by id). :func:`compare_versions` ranks the whole catalogue minus each user's
training items for those users with both versions' embeddings and compares Recall@k and NDCG@k
user by user: the mean difference, its 95% Student-t interval over users and the paired t-test of
that same mean (:func:`graphrec.evaluation.statistics.t_test`, the test ``graphrec evaluate`` runs
over users; the Wilcoxon p reported before issue 30 tested another quantity than the interval).
``graphrec publish --if-better`` publishes only when the Recall@k interval's lower bound is above
zero, i.e. when the candidate wins beyond the users' noise.

The held-out interactions are the newest of the candidate's snapshot, so a served version trained
earlier has not seen them either; one trained on data at least as new may have, which favours it,
and the result says so (``served_saw_holdout``). Whether it did is read from the served version's
own ``holdout.npz`` where it has one (its training pairs, by id): two versions trained on one
snapshot hold out the same newest interactions, so neither saw the other's test, however new the
data. Only a served version trained without a holdout falls back to the dates (its snapshot's
``now_ms`` after the candidate's first held-out interaction).
"""

from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from graphrec.data.errors import InputError, UserError
from graphrec.evaluation.metrics import hit_matrix, ndcg_at_k, recall_at_k, top_k
from graphrec.evaluation.splits import Split
from graphrec.evaluation.statistics import t_test
from graphrec.model.artifact import ModelArtifact, unreadable
from graphrec.snapshot import Snapshot

HOLDOUT_FILE = "holdout.npz"


class NoHoldout(UserError):
    """The candidate was trained without a holdout, so there is nothing to compare on."""


def save_holdout(directory: Path, full: Snapshot, split: Split) -> Path:
    """Keep the held-out and training pairs of ``split`` of ``full`` (by id) with the version they trained."""
    test = split.test.tocoo()
    train = split.train.matrix("ones").tocoo()
    stamps = np.asarray(full.matrix("timestamps")[test.row, test.col]).ravel()
    path = directory / HOLDOUT_FILE
    ids_u, ids_i = full.user_ids, full.item_ids
    np.savez_compressed(
        path,
        test_users=ids_u[test.row],
        test_items=ids_i[test.col],
        train_users=ids_u[train.row],
        train_items=ids_i[train.col],
        first_test_ms=np.int64(stamps.min() if len(stamps) else 0),
    )
    return path


def holdout_metrics(artifact: ModelArtifact, split: Split, *, k: int) -> dict[str, float]:
    """The version's own test metrics on its holdout (what ``/v1/model`` shows)."""
    users = np.flatnonzero(np.diff(split.test.indptr) > 0)
    if len(users) == 0:
        return {}
    scores = (artifact.user_embeddings[users] @ artifact.item_embeddings.T).astype(np.float32)
    ranked = top_k(scores, k, exclude=split.train.matrix("ones")[users])
    hits = hit_matrix(ranked, split.test[users])
    n_relevant = np.diff(split.test[users].indptr).astype(np.float64)
    return {
        f"test_recall@{k}": float(recall_at_k(hits, n_relevant).mean()),
        f"test_ndcg@{k}": float(ndcg_at_k(hits, n_relevant).mean()),
        "test_users": int(len(users)),
    }


@dataclass(frozen=True)
class VersionScore:
    version: str
    recall: float
    ndcg: float


@dataclass(frozen=True)
class Comparison:
    """``candidate`` minus ``served`` on the candidate's holdout, over the users both versions know."""

    candidate: VersionScore
    served: VersionScore
    k: int
    users: int
    recall_difference: float
    recall_interval: tuple[float, float]
    ndcg_difference: float
    ndcg_interval: tuple[float, float]
    recall_p: float
    ndcg_p: float
    served_saw_holdout: bool

    @property
    def candidate_wins(self) -> bool:
        """Better beyond the noise: the 95% interval of the Recall@k difference is above zero."""
        return self.recall_interval[0] > 0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "candidate_wins": self.candidate_wins}

    def report(self) -> str:
        c, s = self.candidate, self.served
        lines = [
            f"| version | recall@{self.k} | ndcg@{self.k} |",
            "|---|---|---|",
            f"| {c.version} (candidate) | {c.recall:.4f} | {c.ndcg:.4f} |",
            f"| {s.version} (served) | {s.recall:.4f} | {s.ndcg:.4f} |",
            "",
            f"difference over {self.users:,} held-out users: recall@{self.k} {self.recall_difference:+.4f} "
            f"(95% CI [{self.recall_interval[0]:+.4f}, {self.recall_interval[1]:+.4f}]), "
            f"ndcg@{self.k} {self.ndcg_difference:+.4f} (95% CI [{self.ndcg_interval[0]:+.4f}, "
            f"{self.ndcg_interval[1]:+.4f}]); paired t-test p = {self.recall_p:.3g} (recall), "
            f"{self.ndcg_p:.3g} (ndcg)",
            "the candidate wins" if self.candidate_wins else "the candidate does not win",
        ]
        if self.served_saw_holdout:
            lines.append(
                "note: the served version was trained on data at least as new as the holdout and may "
                "have seen it, which favours it"
            )
        return "\n".join(lines)


def _per_user(
    artifact: ModelArtifact, users: list[str], relevant: dict[str, list[str]], seen: dict[str, list[str]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-user recall@k and NDCG@k of ``artifact`` (users it does not know are not passed in)."""
    index = {i: n for n, i in enumerate(artifact.item_ids.tolist())}
    rows = np.array([artifact.user_index(u) for u in users], dtype=np.int64)
    scores = (artifact.user_embeddings[rows] @ artifact.item_embeddings.T).astype(np.float32)
    n_items = len(artifact.item_ids)

    def matrix(lists: list[list[str]]) -> sp.csr_matrix:
        r = [n for n, items in enumerate(lists) for i in items if i in index]
        c = [index[i] for items in lists for i in items if i in index]
        return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(lists), n_items))

    ranked = top_k(scores, k, exclude=matrix([seen.get(u, []) for u in users]))
    hits = hit_matrix(ranked, matrix([relevant[u] for u in users]))
    n_relevant = np.array([len(relevant[u]) for u in users], dtype=np.float64)  # unknown items count as misses
    return recall_at_k(hits, n_relevant), ndcg_at_k(hits, n_relevant)


def compare_versions(candidate_dir: Path, served_dir: Path, *, k: int = 20) -> Comparison:
    """Both versions on the candidate's holdout (see the module docstring)."""
    path = candidate_dir / HOLDOUT_FILE
    if not path.exists():
        raise NoHoldout(
            f"{candidate_dir.name} was trained without a holdout (holdout_fraction = 0): nothing to "
            "compare on; train it again with a holdout"
        )
    data = load_holdout(path)
    relevant: dict[str, list[str]] = {}
    for u, i in zip(data["test_users"].tolist(), data["test_items"].tolist(), strict=True):
        relevant.setdefault(u, []).append(i)
    seen: dict[str, list[str]] = {}
    for u, i in zip(data["train_users"].tolist(), data["train_items"].tolist(), strict=True):
        seen.setdefault(u, []).append(i)
    candidate, served = ModelArtifact.load(candidate_dir), ModelArtifact.load(served_dir)
    users = sorted(u for u in relevant if candidate.user_index(u) is not None and served.user_index(u) is not None)
    if not users:
        raise UserError("no held-out user is known to both versions: they were trained on different graphs")
    c_recall, c_ndcg = _per_user(candidate, users, relevant, seen, k)
    s_recall, s_ndcg = _per_user(served, users, relevant, seen, k)
    d_recall, d_ndcg = c_recall - s_recall, c_ndcg - s_ndcg
    recall_mean, recall_interval, recall_p = t_test(d_recall)
    ndcg_mean, ndcg_interval, ndcg_p = t_test(d_ndcg)
    saw = served_saw(served_dir, served, data)
    return Comparison(
        candidate=VersionScore(candidate.version, float(c_recall.mean()), float(c_ndcg.mean())),
        served=VersionScore(served.version, float(s_recall.mean()), float(s_ndcg.mean())),
        k=k,
        users=len(users),
        recall_difference=recall_mean,
        recall_interval=recall_interval,
        ndcg_difference=ndcg_mean,
        ndcg_interval=ndcg_interval,
        recall_p=recall_p,
        ndcg_p=ndcg_p,
        served_saw_holdout=saw,
    )


def load_holdout(path: Path) -> dict[str, np.ndarray]:
    """A version's ``holdout.npz``, every array read; a damaged file is an :class:`InputError` naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(path, None, f"damaged ({unreadable(path, exc)}): train the version again") from None


def _pairs(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``user<US>item`` keys of (user, item) id pairs, for set operations on pairs of string ids."""
    return np.char.add(np.char.add(users.astype(str), "\x1f"), items.astype(str))


def served_saw(served_dir: Path, served: ModelArtifact, candidate_holdout: dict[str, np.ndarray]) -> bool:
    """Whether the served version was trained on any of the candidate's held-out pairs (see the
    module docstring): by its training pairs when it kept them, else by the dates."""
    path = served_dir / HOLDOUT_FILE
    if path.exists():
        own = load_holdout(path)
        held = _pairs(candidate_holdout["test_users"], candidate_holdout["test_items"])
        return bool(np.isin(held, _pairs(own["train_users"], own["train_items"])).any())
    served_ms = int((served.manifest.get("snapshot") or {}).get("now_ms") or 0)
    return served_ms > int(candidate_holdout["first_test_ms"])
