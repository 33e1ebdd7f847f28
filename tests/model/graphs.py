"""Tiny deterministic interaction graphs for model tests (block structure = learnable taste groups)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.snapshot import Snapshot


def block_snapshot(
    *,
    groups: int = 3,
    users_per_group: int = 12,
    items_per_group: int = 10,
    density: float = 0.6,
    seed: int = 0,
    categories: bool = True,
    titles: bool = False,
) -> Snapshot:
    """Users of group g interact mostly with items of group g; weights vary so normalisation matters.
    With ``titles`` every item of group g is named after the group (``GROUP_WORDS[g]``) plus words of its
    own, so a title says which group an item belongs to."""
    rng = np.random.default_rng(seed)
    n_users, n_items = groups * users_per_group, groups * items_per_group
    ug = np.arange(n_users) // users_per_group
    ig = np.arange(n_items) // items_per_group
    p = np.where(ug[:, None] == ig[None, :], density, 0.03)
    dense = rng.random((n_users, n_items)) < p
    dense[np.arange(n_users), ig.searchsorted(ug) + np.arange(n_users) % items_per_group] = True
    rows, cols = np.nonzero(dense)
    weights = rng.uniform(0.5, 2.0, len(rows)).astype(np.float32)
    ts = 1_700_000_000_000 + rng.integers(0, 30 * 86_400_000, len(rows))
    cat = (
        sp.csr_matrix((np.ones(n_items, np.float32), (np.arange(n_items), ig)), shape=(n_items, groups))
        if categories
        else None
    )
    return Snapshot.from_coo(
        user_ids=np.array([f"u{i:03d}" for i in range(n_users)]),
        item_ids=np.array([f"i{i:03d}" for i in range(n_items)]),
        rows=rows,
        cols=cols,
        weights=weights,
        timestamps=ts,
        item_categories=cat,
        category_names=np.array([f"c{g}" for g in range(groups)]) if categories else None,
        item_titles=np.array([group_title(int(g), i) for i, g in enumerate(ig)]) if titles else None,
    )


GROUP_WORDS = ("orchard apples", "harbour boats", "desert cactus", "glacier ice", "jungle parrots")


def group_title(group: int, item: int) -> str:
    """A title that names the item's group (two words shared by its group) and the item itself."""
    return f"{GROUP_WORDS[group % len(GROUP_WORDS)]} number{item} edition"


def small_config(**overrides: object) -> TrainConfig:
    """The small, fast training the model tests share (dim 8, 2 layers, 12 epochs of batch 64, validation every
    2 epochs with patience 2), with ``overrides`` on top."""
    base: dict[str, object] = {
        "encoder": EncoderConfig(dim=8, layers=2),
        "epochs": 12,
        "batch_size": 64,
        "lr": 0.02,
        "eval_every": 2,
        "patience": 2,
    }
    return TrainConfig.model_validate({**base, **overrides})
