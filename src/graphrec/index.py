"""ANN index over item embeddings: exact below a size threshold, IVF (numpy k-means) above it.

Scores are inner products (the model's scoring function) or cosine. Maximum inner product search
is reduced to nearest-neighbour search with the usual augmentation ``x' = [x, sqrt(M^2 - |x|^2)]``,
``q' = [q, 0]`` (``|q' - x'|^2 = |q|^2 + M^2 - 2 q.x``), so k-means cells and probing are plain
Euclidean and correct for inner products. Inside probed cells the exact inner product ranks
candidates. Files are ``.npy`` + ``index.json``; no faiss required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

Metric = Literal["ip", "cosine"]


def _kmeans(x: np.ndarray, k: int, *, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Lloyd's algorithm from a random sample of points; empty cells are re-seeded at random points."""
    centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    x_sq = (x**2).sum(1)
    for _ in range(iterations):
        dist = x_sq[:, None] - 2 * x @ centroids.T + (centroids**2).sum(1)[None, :]
        assign = dist.argmin(1)
        counts = np.bincount(assign, minlength=k)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        empty = counts == 0
        centroids[~empty] = sums[~empty] / counts[~empty, None]
        if empty.any():
            centroids[empty] = x[rng.choice(len(x), size=int(empty.sum()), replace=False)]
    return centroids


def _member(items: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """``np.isin`` for the serving case (a few hundred items against a user's seen list): a
    broadcast compare, several times cheaper than ``isin``'s sort at these sizes."""
    if len(excluded) == 0:
        return np.zeros(len(items), dtype=bool)
    if len(items) * len(excluded) <= 1 << 16:
        member: np.ndarray = (items[:, None] == excluded[None, :]).any(axis=1)
        return member
    return np.isin(items, excluded)


@dataclass
class ItemIndex:
    """Top-k search over item vectors.

    Attributes:
        vectors: ``(n, d)`` float32 item vectors (normalised when ``metric == "cosine"``).
        metric: ``ip`` or ``cosine``.
        centroids: ``(nlist, d + 1)`` IVF cells in augmented space (empty for an exact index).
        list_offsets, list_items: CSR of item indices per cell.
        nprobe: cells searched per query by default.
    """

    vectors: np.ndarray
    metric: Metric
    centroids: np.ndarray
    list_offsets: np.ndarray
    list_items: np.ndarray
    max_norm: float
    nprobe: int = 8

    @property
    def exact(self) -> bool:
        return len(self.centroids) == 0

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        *,
        metric: Metric = "ip",
        exact_below: int = 10_000,
        nlist: int | None = None,
        nprobe: int | None = None,
        iterations: int = 15,
        seed: int = 0,
    ) -> ItemIndex:
        """Exact index for fewer than ``exact_below`` items, else IVF with ``nlist ~ 4 sqrt(n)`` cells."""
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if metric == "cosine":
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        norms = np.linalg.norm(v, axis=1)
        max_norm = float(norms.max()) if len(v) else 0.0
        empty = np.zeros(0, dtype=np.int64)
        if len(v) < exact_below:
            return cls(v, metric, np.zeros((0, v.shape[1] + 1), np.float32), empty, empty, max_norm, 0)
        nlist = nlist or int(max(1, min(len(v) // 8, round(4 * np.sqrt(len(v))))))
        rng = np.random.default_rng(seed)
        aug = np.hstack([v, np.sqrt(np.maximum(max_norm**2 - norms**2, 0))[:, None]]).astype(np.float32)
        sample = aug[rng.choice(len(aug), size=min(len(aug), 256 * nlist), replace=False)]
        centroids = _kmeans(sample, nlist, iterations=iterations, rng=rng).astype(np.float32)
        assign = np.empty(len(aug), dtype=np.int64)
        c_sq = (centroids**2).sum(1)
        for start in range(0, len(aug), 65_536):
            chunk = aug[start : start + 65_536]
            assign[start : start + 65_536] = (c_sq[None, :] - 2 * chunk @ centroids.T).argmin(1)
        order = np.argsort(assign, kind="stable")
        offsets = np.zeros(nlist + 1, dtype=np.int64)
        np.cumsum(np.bincount(assign, minlength=nlist), out=offsets[1:])
        nprobe = nprobe or max(1, nlist // 16)
        return cls(v, metric, centroids, offsets, order.astype(np.int64), max_norm, nprobe)

    @cached_property
    def _centroid_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """``|c|^2`` and the first ``d`` coordinates of each cell: a query's augmented coordinate is
        0, so ``|q' - c|^2 - |q|^2 = |c|^2 - 2 q.c[:d]`` needs no augmented query."""
        return (self.centroids**2).sum(1), np.ascontiguousarray(self.centroids[:, :-1].T)

    def _prepare(self, queries: np.ndarray) -> np.ndarray:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if self.metric == "cosine":
            q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        return q

    def search_exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force top-k (the reference the IVF recall is checked against)."""
        q = self._prepare(queries)
        scores = q @ self.vectors.T
        k = min(k, scores.shape[1])
        part = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-ps, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(ps, order, axis=1)

    def search(
        self, queries: np.ndarray, k: int, *, nprobe: int | None = None, exclude: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, scores)``, each ``(n_queries, k)``, best first; ``-1`` / ``-inf`` pad short rows.

        Args:
            queries: ``(n_queries, d)`` or ``(d,)``.
            k: results per query.
            nprobe: IVF cells to scan (ignored by an exact index).
            exclude: per query, item indices that must not be returned (e.g. already seen).
        """
        q = self._prepare(queries)
        n_q = len(q)
        out_idx = np.full((n_q, k), -1, dtype=np.int64)
        out_sc = np.full((n_q, k), -np.inf, dtype=np.float32)
        extra = max((len(e) for e in exclude), default=0) if exclude else 0
        if self.exact:
            idx, sc = self.search_exact(q, k + extra)
            cand_rows = [(idx[r], sc[r]) for r in range(n_q)]
        else:
            probe = min(nprobe or self.nprobe, len(self.centroids))
            c_sq, c_head = self._centroid_terms
            dist = c_sq[None, :] - 2 * (q @ c_head)
            cells = np.argpartition(dist, kth=probe - 1, axis=1)[:, :probe]
            cand_rows = []
            for r in range(n_q):
                # the probed cells' slices of list_items, gathered in one vectorised step
                starts = self.list_offsets[cells[r]]
                lens = self.list_offsets[cells[r] + 1] - starts
                pos = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(int(lens.sum()))
                items = self.list_items[pos]
                scores = self.vectors[items] @ q[r]
                take = min(k + extra, len(items))
                top = np.argpartition(-scores, kth=take - 1)[:take] if take else np.zeros(0, np.int64)
                top = top[np.argsort(-scores[top], kind="stable")]
                cand_rows.append((items[top], scores[top]))
        for r, (items, scores) in enumerate(cand_rows):
            if exclude:
                keep = ~_member(items, np.asarray(exclude[r]))
                items, scores = items[keep], scores[keep]
            n = min(k, len(items))
            out_idx[r, :n], out_sc[r, :n] = items[:n], scores[:n]
        return out_idx, out_sc

    def save(self, directory: str | Path) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("vectors", "centroids", "list_offsets", "list_items"):
            np.save(out / f"{name}.npy", getattr(self, name), allow_pickle=False)
        (out / "index.json").write_text(
            json.dumps(
                {
                    "metric": self.metric,
                    "max_norm": self.max_norm,
                    "nprobe": self.nprobe,
                    "kind": "exact" if self.exact else "ivf",
                    "n_items": len(self.vectors),
                    "nlist": len(self.centroids),
                },
                indent=2,
            )
        )
        return out

    @classmethod
    def load(cls, directory: str | Path) -> ItemIndex:
        src = Path(directory)
        meta = json.loads((src / "index.json").read_text())
        arrays = {
            name: np.load(src / f"{name}.npy", allow_pickle=False)
            for name in ("vectors", "centroids", "list_offsets", "list_items")
        }
        return cls(metric=meta["metric"], max_norm=float(meta["max_norm"]), nprobe=int(meta["nprobe"]), **arrays)
