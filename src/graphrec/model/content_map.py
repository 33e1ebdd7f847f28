"""The cold-item path: a ridge map from an item's content features to the GraphSAGE embedding space.

An item the catalogue describes after training has a title and categories but no edges. Two inductive
answers were measured by ``graphrec evaluate --protocol cold-items`` (README, model section):

1. *features through the trained layers*: ``h^0 = feature_proj(x)`` with no id embedding and an empty
   neighbourhood, then GraphSAGE's layers and layer combination (:func:`through_layers`);
2. *a learned feature -> embedding map* (this module's :class:`ContentMap`): ridge regression of the
   final embeddings of every trained item on its content features, applied to the new item's row.

The map serves. Path 1 asks the trained layers a question they were never trained on: every item they
saw had its id embedding and its neighbours, which carry most of an item's final embedding, so
``feature_proj`` only had to learn a correction to them, and what it gives an item described by its
features alone is no embedding the users' vectors were fitted against. On ML-100K (3 seeds, 336
held-out films) path 1 ranked them no better than chance (Recall@20 0.045; chance about 0.06), text
cosine reached 0.164 and the map 0.228 (README, cold items). The map is fitted on exactly the quantity
that is served (the final embeddings users are scored against) from the quantity a new item has (its
content), in closed form in milliseconds, with its one hyperparameter chosen without any held-out
edge: the L2 weight with the smallest leave-one-out error over the trained items (exact for ridge,
from one SVD). It is fitted after training on the version's own embeddings and saved with the version
(``content.npz``), so every served vector still comes from the GraphSAGE trained on the exported
snapshot; the map adds nothing to training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from graphrec.model.content import ContentEncoder
from graphrec.model.graphsage import GraphSAGERec

L2_GRID = tuple(10.0**e for e in range(-6, 2))  # times the largest squared singular value of the features


@dataclass(frozen=True, eq=False)
class ContentMap:
    """``embedding = features @ weight + bias``; ``l2``: the ridge weight leave-one-out chose."""

    weight: np.ndarray  # (n_features, dim) float32
    bias: np.ndarray  # (dim,) float32
    l2: float

    def __call__(self, features: np.ndarray) -> np.ndarray:
        out: np.ndarray = (np.asarray(features, np.float32) @ self.weight + self.bias).astype(np.float32)
        return out

    @classmethod
    def fit(cls, features: np.ndarray, embeddings: np.ndarray) -> ContentMap:
        """Ridge with an intercept of ``embeddings`` on ``features`` (one row per trained item), the L2
        weight picked from :data:`L2_GRID` by exact leave-one-out error. Vectorised: one thin SVD, then
        a few ``(n, p)`` products per grid point."""
        x = np.asarray(features, np.float64)
        y = np.asarray(embeddings, np.float64)
        n, p = x.shape
        x_mean, y_mean = x.mean(0), y.mean(0)
        if n < 2 or p == 0:
            return cls(np.zeros((p, y.shape[1]), np.float32), y_mean.astype(np.float32), float("nan"))
        xc, yc = x - x_mean, y - y_mean
        u, s, vt = np.linalg.svd(xc, full_matrices=False)
        uty = u.T @ yc  # (r, dim)
        scale = float(s[0] ** 2) if len(s) and s[0] > 0 else 1.0
        best: tuple[float, float] | None = None
        for rel in L2_GRID:
            lam = rel * scale
            shrink = s**2 / (s**2 + lam)
            fitted = u @ (shrink[:, None] * uty)
            leverage = (u**2) @ shrink + 1.0 / n  # the hat matrix's diagonal, the intercept included
            loo = ((yc - fitted) / np.maximum(1.0 - leverage, 1e-9)[:, None]) ** 2
            error = float(loo.sum())
            if best is None or error < best[0]:
                best = (error, lam)
        assert best is not None
        lam = best[1]
        weight = vt.T @ ((s / (s**2 + lam))[:, None] * uty)
        bias = y_mean - x_mean @ weight
        return cls(weight.astype(np.float32), bias.astype(np.float32), lam)

    def arrays(self) -> dict[str, np.ndarray]:
        """What the version saves (``content.npz``, beside the encoder's arrays)."""
        return {"map_weight": self.weight, "map_bias": self.bias, "map_l2": np.array([self.l2])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ContentMap:
        return cls(
            arrays["map_weight"].astype(np.float32), arrays["map_bias"].astype(np.float32), float(arrays["map_l2"][0])
        )


def through_layers(model: GraphSAGERec, features: np.ndarray) -> np.ndarray:
    """Path 1 of the module docstring, for the cold-items evaluation's ablation row: each row's final
    embedding from ``feature_proj(x)`` alone (no id embedding) and an empty neighbourhood, through the
    model's own ``layer_step`` and ``combine``."""
    if model.feature_proj is None:
        return np.zeros((len(features), model.config.dim), np.float32)
    empty: Callable[[torch.Tensor], torch.Tensor] = torch.zeros_like
    with torch.no_grad():
        ego = model.feature_proj(torch.from_numpy(np.asarray(features, np.float32)))
        out: np.ndarray = model.forward(empty, None, ego).numpy()
    return out


@dataclass(frozen=True, eq=False)
class ContentEmbedder:
    """A version's cold-item path: its content encoder and the map fitted on its embeddings."""

    encoder: ContentEncoder
    map: ContentMap

    def embed(self, titles: Sequence[str], categories: Sequence[Sequence[str]]) -> np.ndarray:
        """``(n, dim)`` embeddings of items described only by title and categories (vectorised)."""
        return self.map(self.encoder.features(titles, categories))

    def save(self, directory: Path) -> None:
        self.encoder.save(directory, self.map.arrays())

    @classmethod
    def load(cls, directory: Path) -> ContentEmbedder | None:
        """None for a version trained without content features (before they existed, or with none)."""
        loaded = ContentEncoder.load(directory)
        if loaded is None:
            return None
        encoder, arrays = loaded
        return cls(encoder, ContentMap.from_arrays(arrays))
