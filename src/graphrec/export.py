"""GraphStore -> training ``Snapshot``: paged reads, contiguous ids, filters, decay, content hash.

Edges are read page by page through ``InteractionStore.iter_interactions`` (never one giant result) and
kept as flat Python lists until the end, where pyarrow's dictionary encoding turns string ids into
contiguous indices at C speed; ids are then renumbered in sorted order so the same graph always
yields the same arrays and the same content hash, whatever order pages arrived in.

Filters apply in this order: time window, weight (non-positive edges such as dislikes are not
training positives), categories, user sampling (random or random walk with
restart), minimum degrees (iterated to a k-core when ``k_core``). Weights are decayed with the
store's formula ``w * 0.5 ** ((reference - last_ts) / half_life)``, the reference being the newest
exported edge (``now_ms`` overrides it): the snapshot of an old data set weighs exactly like the same
data set shifted to today (see :mod:`graphrec.clock`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from graphrec import clock
from graphrec.clock import decay_reference, decay_weights
from graphrec.graph.port import CatalogueStore, GraphStore, InteractionStore
from graphrec.graph.records import InteractionPage
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)


class ExportConfig(BaseModel):
    """Which part of the graph to export and how to weigh it."""

    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(50_000, ge=100)
    since_ms: int | None = Field(None, description="keep edges with last_ts >= since (filtered in the store)")
    until_ms: int | None = Field(None, description="keep edges with last_ts <= until")
    categories: list[str] = Field(default_factory=list, description="keep items in any of these (empty: all)")
    min_weight: float | None = Field(
        0.0,
        description="keep edges whose weight is > this (dislikes weigh "
        "< 0 and are not positives); None keeps every edge",
    )
    min_user_degree: int = Field(1, ge=1)
    min_item_degree: int = Field(1, ge=1)
    k_core: bool = Field(False, description="repeat the degree filter until every node satisfies it")
    max_users: int | None = Field(None, ge=1, description="sample at most this many users")
    sampling: Literal["random", "rwr"] = "rwr"
    restart_prob: float = Field(0.15, gt=0, lt=1)
    half_life_days: float | None = Field(None, gt=0, description="None: the settings' half-life")
    decay: bool = Field(
        True,
        description="false: export the stored weights undecayed (to compare with a "
        "file data set that has no notion of recency)",
    )
    now_ms: int | None = Field(
        None,
        description="decay reference time (None: the newest exported edge's "
        "last_ts, so the data set's age does not matter)",
    )
    seed: int = 0


@dataclass(frozen=True)
class _Edges:
    users: np.ndarray  # contiguous user index per edge
    items: np.ndarray
    weights: np.ndarray
    last_ts: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray


def _encode_sorted(values: np.ndarray | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)`` with ``uniques`` sorted, so codes do not depend on input order."""
    if len(values) == 0:
        return np.zeros(0, np.int64), np.zeros(0, dtype=str)
    enc = pa.array(values, type=pa.string()).dictionary_encode()
    dictionary = np.asarray(enc.dictionary.to_numpy(zero_copy_only=False)).astype(str)
    order = np.argsort(dictionary, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
    return codes, dictionary[order]


def _read_edges(store: InteractionStore, cfg: ExportConfig, progress: bool) -> tuple[_Edges, int]:
    pages = []
    bar = tqdm(desc="export edges", unit="edge", disable=None if progress else True, leave=False)
    for page in store.iter_interactions(page_size=cfg.page_size, since_ms=cfg.since_ms):
        pages.append(page)
        bar.update(len(page.user_ids))
    bar.close()
    edges = InteractionPage.concat(pages)
    u, user_ids = _encode_sorted(edges.user_ids)
    i, item_ids = _encode_sorted(edges.item_ids)
    return _Edges(u, i, edges.weights, edges.last_ts, user_ids, item_ids), len(pages)


def _read_items(store: CatalogueStore, cfg: ExportConfig) -> tuple[list[str], pa.ListArray, list[str | None]]:
    """Every item's id, categories and title (what the content features read), in the store's order."""
    ids: list[str] = []
    cats: list[list[str]] = []
    titles: list[str | None] = []
    for page in store.iter_items(page_size=cfg.page_size):
        ids.extend(page.ids)
        cats.extend(page.categories)
        titles.extend(page.titles)
    return ids, pa.array(cats, type=pa.list_(pa.string())), titles


def _degree_filter(
    users: np.ndarray,
    items: np.ndarray,
    n_users: int,
    n_items: int,
    cfg: ExportConfig,
) -> np.ndarray:
    keep = np.ones(len(users), dtype=bool)
    while True:
        du = np.bincount(users[keep], minlength=n_users)
        di = np.bincount(items[keep], minlength=n_items)
        new: np.ndarray = keep & (du[users] >= cfg.min_user_degree) & (di[items] >= cfg.min_item_degree)
        if new.sum() == keep.sum() or not cfg.k_core:
            return new
        keep = new


def sample_users_rwr(
    users: np.ndarray,
    items: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    max_users: int,
    restart_prob: float,
    rng: np.random.Generator,
    max_steps: int = 200,
) -> np.ndarray:
    """Users most visited by random walks with restart from random seed users (a connected sample).

    Walkers alternate user -> random item -> random user and jump back to their seed with
    ``restart_prob``; all walkers move at once (vectorised over CSR/CSC arrays).
    """
    by_user = sp.csr_matrix((np.ones(len(users), np.int8), (users, items)), shape=(n_users, n_items))
    by_item = by_user.T.tocsr()
    u_ptr, u_idx = by_user.indptr, by_user.indices
    i_ptr, i_idx = by_item.indptr, by_item.indices
    u_deg, i_deg = np.diff(u_ptr), np.diff(i_ptr)
    active = np.flatnonzero(u_deg > 0)
    n_walkers = int(min(len(active), max(64, max_users // 4)))
    seeds = rng.choice(active, size=n_walkers, replace=False)
    position = seeds.copy()
    visits = np.zeros(n_users, dtype=np.int64)
    np.add.at(visits, seeds, 1)
    for _ in range(max_steps):
        item = u_idx[u_ptr[position] + (rng.random(n_walkers) * u_deg[position]).astype(np.int64)]
        nxt = i_idx[i_ptr[item] + (rng.random(n_walkers) * i_deg[item]).astype(np.int64)]
        restart = rng.random(n_walkers) < restart_prob
        position = np.where(restart, seeds, nxt)
        np.add.at(visits, position, 1)
        if np.count_nonzero(visits) >= 2 * max_users:
            break
    visited = np.flatnonzero(visits)
    if len(visited) < max_users:  # top up with random unvisited users
        rest = np.setdiff1d(active, visited)
        visited = np.concatenate(
            [visited, rng.choice(rest, size=min(len(rest), max_users - len(visited)), replace=False)]
        )
        return np.sort(visited)
    tie = rng.random(len(visited))
    order = np.lexsort((tie, -visits[visited]))
    return np.sort(visited[order[:max_users]])


def export_snapshot(
    store: GraphStore,
    cfg: ExportConfig,
    *,
    half_life_days: float,
    progress: bool = True,
) -> Snapshot:
    """Read the graph (or the configured subgraph) from ``store`` into a ``Snapshot``."""
    started = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    edges, pages = _read_edges(store, cfg, progress)
    read_seconds = time.perf_counter() - started
    item_ids_all, item_cats, item_titles_all = _read_items(store, cfg)
    n_users, n_items = len(edges.user_ids), len(edges.item_ids)

    keep = np.ones(len(edges.users), dtype=bool)
    if cfg.until_ms is not None:
        keep &= edges.last_ts <= cfg.until_ms
    if cfg.min_weight is not None:
        keep &= edges.weights > cfg.min_weight
    # categories, aligned with the edge item dictionary
    pos_in_items = np.full(n_items, -1, dtype=np.int64)
    if item_ids_all:
        store_ids = np.asarray(item_ids_all).astype(str)
        order = np.argsort(store_ids, kind="stable")
        found = np.searchsorted(store_ids[order], edges.item_ids)
        found = np.minimum(found, len(order) - 1)
        hit = store_ids[order][found] == edges.item_ids
        pos_in_items[hit] = order[found[hit]]
    lengths = np.asarray(pc.list_value_length(item_cats).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    flat = np.asarray(pc.list_flatten(item_cats).to_numpy(zero_copy_only=False)).astype(str)
    cat_codes, cat_names = _encode_sorted(flat.tolist())
    store_rows = np.repeat(np.arange(len(lengths)), lengths)
    cat_matrix = sp.csr_matrix(
        (np.ones(len(cat_codes), np.float32), (store_rows, cat_codes)), shape=(len(lengths), len(cat_names))
    )
    item_cat = sp.csr_matrix((n_items, len(cat_names)), dtype=np.float32)
    has = pos_in_items >= 0
    titles_read = pa.array(item_titles_all, type=pa.string()).fill_null("").to_numpy(zero_copy_only=False)
    store_titles = np.append(np.asarray(titles_read).astype(str), "")  # the last: items the store has no row for
    item_titles = store_titles[np.where(has, pos_in_items, len(item_titles_all))]
    if has.any():
        sel = sp.csr_matrix(
            (np.ones(int(has.sum()), np.float32), (np.flatnonzero(has), pos_in_items[has])),
            shape=(n_items, len(lengths)),
        )
        item_cat = (sel @ cat_matrix).tocsr()
    if cfg.categories:
        wanted = np.isin(cat_names, cfg.categories)
        in_cat = np.asarray(item_cat[:, wanted].sum(1)).ravel() > 0
        keep &= in_cat[edges.items]
    if cfg.max_users is not None and len(np.unique(edges.users[keep])) > cfg.max_users:
        if cfg.sampling == "random":
            candidates = np.unique(edges.users[keep])
            chosen = rng.choice(candidates, size=cfg.max_users, replace=False)
        else:
            chosen = sample_users_rwr(
                edges.users[keep],
                edges.items[keep],
                n_users,
                n_items,
                max_users=cfg.max_users,
                restart_prob=cfg.restart_prob,
                rng=rng,
            )
        keep &= np.isin(edges.users, chosen)
    sub = np.flatnonzero(keep)
    keep_deg = _degree_filter(edges.users[sub], edges.items[sub], n_users, n_items, cfg)
    sub = sub[keep_deg]

    # renumber the surviving users and items contiguously (sorted ids are preserved)
    used_users = np.unique(edges.users[sub])
    used_items = np.unique(edges.items[sub])
    rows = np.searchsorted(used_users, edges.users[sub])
    cols = np.searchsorted(used_items, edges.items[sub])
    half_life = cfg.half_life_days or half_life_days
    now_ms = cfg.now_ms if cfg.now_ms is not None else decay_reference(edges.last_ts[sub], default=clock.now_ms())
    weights = (
        decay_weights(edges.weights[sub], edges.last_ts[sub], now_ms=now_ms, half_life_days=half_life)
        if cfg.decay
        else edges.weights[sub].astype(np.float32)
    )
    seconds = time.perf_counter() - started
    manifest = {
        "source": "store",
        "created_ms": clock.now_ms(),
        "now_ms": now_ms,
        "half_life_days": half_life,
        "filters": cfg.model_dump(),
        "pages": pages,
        "edges_read": int(len(edges.users)),
        "read_seconds": round(read_seconds, 3),
        "export_seconds": round(seconds, 3),
        "edges_per_second": round(len(edges.users) / max(read_seconds, 1e-9)),
    }
    snapshot = Snapshot.from_coo(
        user_ids=edges.user_ids[used_users],
        item_ids=edges.item_ids[used_items],
        rows=rows,
        cols=cols,
        weights=weights,
        timestamps=edges.last_ts[sub],
        item_categories=item_cat[used_items],
        category_names=cat_names,
        item_titles=item_titles[used_items],
        manifest=manifest,
    )
    logger.info(
        "exported %d users, %d items, %d edges in %.2fs", snapshot.n_users, snapshot.n_items, snapshot.n_edges, seconds
    )
    return snapshot
