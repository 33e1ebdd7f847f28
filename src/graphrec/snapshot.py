"""A training snapshot of the interaction graph: contiguous ids, a user-item CSR, item categories and titles.

Training, evaluation and the baselines all read this one structure, so a model can be retrained
and compared on exactly the graph that was exported (the manifest's content hash names it).
Files are plain ``.npy`` (``allow_pickle=False``) plus ``manifest.json``: loading a snapshot never
executes code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData

_ARRAYS = (
    "user_ids",
    "item_ids",
    "indptr",
    "indices",
    "weights",
    "timestamps",
    "category_indptr",
    "category_indices",
    "category_names",
)
TITLES = "item_titles"
"""The optional array of item titles (``""`` where an item has none): written only when some item has a
title, and hashed only then, so a snapshot saved before titles were exported loads and hashes as it did."""
MANIFEST = "manifest.json"


@dataclass(eq=False)
class Snapshot:
    """User-item interactions in CSR form with contiguous indices.

    Attributes:
        user_ids: external user ids, ``user_ids[u]`` is row ``u``.
        item_ids: external item ids, ``item_ids[i]`` is column ``i``.
        indptr, indices: CSR structure, users are rows, items columns; indices sorted within rows.
        weights: decayed edge weights (float32), aligned with ``indices``.
        timestamps: ``last_ts`` of every edge in epoch milliseconds (int64).
        category_indptr, category_indices: item -> category CSR (rows are items).
        category_names: ``category_names[c]`` names category column ``c``.
        item_titles: ``item_titles[i]`` is item ``i``'s title as the catalogue gave it (``""``: none);
            what the content features' text vectoriser reads (:mod:`graphrec.model.content`).
        manifest: provenance (filters, ``now_ms``, half-life, counts, ``content_hash``).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    timestamps: np.ndarray
    category_indptr: np.ndarray
    category_indices: np.ndarray
    category_names: np.ndarray
    item_titles: np.ndarray | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.user_ids = np.asarray(self.user_ids).astype(str)
        self.item_ids = np.asarray(self.item_ids).astype(str)
        self.indptr = np.asarray(self.indptr, dtype=np.int64)
        self.indices = np.asarray(self.indices, dtype=np.int64)
        self.weights = np.asarray(self.weights, dtype=np.float32)
        self.timestamps = np.asarray(self.timestamps, dtype=np.int64)
        self.category_indptr = np.asarray(self.category_indptr, dtype=np.int64)
        self.category_indices = np.asarray(self.category_indices, dtype=np.int64)
        self.category_names = np.asarray(self.category_names).astype(str)
        titles = np.zeros(len(self.item_ids), dtype=str) if self.item_titles is None else self.item_titles
        self.item_titles = np.asarray(titles).astype(str)
        if len(self.item_titles) != self.n_items:
            raise ValueError("item_titles must have one entry per item")
        if len(self.indptr) != self.n_users + 1 or self.indptr[-1] != len(self.indices):
            raise ValueError("indptr does not match user_ids / indices")
        if not (len(self.indices) == len(self.weights) == len(self.timestamps)):
            raise ValueError("indices, weights and timestamps must have the same length")
        if len(self.category_indptr) != self.n_items + 1:
            raise ValueError("category_indptr must have n_items + 1 entries")
        self.manifest.setdefault("content_hash", self.content_hash())
        self.manifest.update(n_users=self.n_users, n_items=self.n_items, n_edges=self.n_edges)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_coo(
        cls,
        *,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        weights: np.ndarray,
        timestamps: np.ndarray,
        item_categories: sp.csr_matrix | None = None,
        category_names: np.ndarray | None = None,
        item_titles: np.ndarray | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> Snapshot:
        """Build from COO triples; duplicate (row, col) pairs keep summed weights and the latest ts."""
        n_users, n_items = len(user_ids), len(item_ids)
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        key = rows * max(n_items, 1) + cols
        order = np.argsort(key, kind="stable")
        key_sorted = key[order]
        uniq, start = np.unique(key_sorted, return_index=True)
        w = np.add.reduceat(np.asarray(weights, dtype=np.float64)[order], start) if len(order) else np.zeros(0)
        ts = (
            np.maximum.reduceat(np.asarray(timestamps, dtype=np.int64)[order], start)
            if len(order)
            else (np.zeros(0, dtype=np.int64))
        )
        r = uniq // max(n_items, 1)
        c = uniq % max(n_items, 1)
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=n_users), out=indptr[1:])
        if item_categories is None:
            item_categories = sp.csr_matrix((n_items, 0), dtype=np.float32)
            category_names = np.zeros(0, dtype=str)
        return cls(
            user_ids=user_ids,
            item_ids=item_ids,
            indptr=indptr,
            indices=c,
            weights=w,
            timestamps=ts,
            category_indptr=item_categories.indptr,
            category_indices=item_categories.indices,
            category_names=category_names if category_names is not None else np.zeros(0, dtype=str),
            item_titles=item_titles,
            manifest=dict(manifest or {}),
        )

    # ------------------------------------------------------------------ views
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_edges(self) -> int:
        return len(self.indices)

    @property
    def n_categories(self) -> int:
        return len(self.category_names)

    @property
    def titles(self) -> np.ndarray:
        """``item_titles`` as a typed array (``""`` where an item has no title)."""
        assert self.item_titles is not None  # set by __post_init__
        return self.item_titles

    @property
    def has_titles(self) -> bool:
        """Whether any item has a title (a snapshot exported before titles were, or a ratings file, has none)."""
        return bool(np.any(self.titles != ""))

    @property
    def rows(self) -> np.ndarray:
        """Row (user) index of every edge, aligned with ``indices``."""
        return np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(self.indptr))

    def matrix(self, values: str = "weights") -> sp.csr_matrix:
        """The user x item matrix with ``weights``, ``ones`` or ``timestamps`` as values."""
        data = {
            "weights": self.weights,
            "ones": np.ones(self.n_edges, dtype=np.float32),
            "timestamps": self.timestamps,
        }[values]
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n_users, self.n_items))

    def item_category_matrix(self) -> sp.csr_matrix:
        data = np.ones(len(self.category_indices), dtype=np.float32)
        return sp.csr_matrix(
            (data, self.category_indices, self.category_indptr), shape=(self.n_items, self.n_categories)
        )

    def subset_edges(self, mask: np.ndarray, **manifest: Any) -> Snapshot:
        """Same id maps and categories, only the edges where ``mask`` is true (splits use this)."""
        rows = self.rows[mask]
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.n_users), out=indptr[1:])
        meta = {k: v for k, v in self.manifest.items() if k != "content_hash"}
        meta.update(manifest, parent_hash=self.manifest.get("content_hash"))
        return Snapshot(
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            indptr=indptr,
            indices=self.indices[mask],
            weights=self.weights[mask],
            timestamps=self.timestamps[mask],
            category_indptr=self.category_indptr,
            category_indices=self.category_indices,
            category_names=self.category_names,
            item_titles=self.item_titles,
            manifest=meta,
        )

    def to_hetero_data(self, *, reverse: bool = True) -> HeteroData:
        """The snapshot as a PyTorch Geometric ``HeteroData``, for models beyond graphrec's own.

        Node types ``user`` and ``item`` (``num_nodes``, ``external_id`` lists mapping indices back
        to graph ids; items carry ``x``, their category multi-hot, when there are categories). Edge
        type ``(user, interacted, item)`` has ``edge_index`` (2 x E, int64), ``edge_weight`` (the
        snapshot's decayed weights) and ``edge_time`` (``last_ts`` in epoch ms); with ``reverse``,
        ``(item, rev_interacted, user)`` holds the same edges reversed, as ``T.ToUndirected`` would.
        """
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        data["user"].num_nodes = self.n_users
        data["user"].external_id = self.user_ids.tolist()
        data["item"].num_nodes = self.n_items
        data["item"].external_id = self.item_ids.tolist()
        if self.n_categories:
            data["item"].x = torch.from_numpy(self.item_category_matrix().toarray())
            data["item"].category_names = self.category_names.tolist()
        if self.has_titles:
            data["item"].title = self.titles.tolist()
        edge_index = torch.from_numpy(np.vstack([self.rows, self.indices]))
        weight, time = torch.from_numpy(self.weights.copy()), torch.from_numpy(self.timestamps.copy())
        forward = data["user", "interacted", "item"]
        forward.edge_index, forward.edge_weight, forward.edge_time = edge_index, weight, time
        if reverse:
            back = data["item", "rev_interacted", "user"]
            back.edge_index, back.edge_weight, back.edge_time = edge_index.flip(0), weight, time
        return data

    # ------------------------------------------------------------------ identity and files
    def content_hash(self) -> str:
        """SHA-256 over every array (dtype, shape and bytes): equal graphs hash equal. Titles count only
        when some item has one (:data:`TITLES`)."""
        h = hashlib.sha256()
        for name in _ARRAYS + ((TITLES,) if self.has_titles else ()):
            arr = np.ascontiguousarray(getattr(self, name))
            if arr.dtype.kind == "U":
                payload = "\x1f".join(arr.tolist()).encode("utf-8")
            else:
                payload = arr.tobytes()
            h.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
            h.update(hashlib.sha256(payload).digest())
        return h.hexdigest()

    def without_users(self, user_ids: Sequence[str]) -> Snapshot | None:
        """This snapshot with ``user_ids``' rows gone (None when it holds none of them): for erasure.
        Items stay (an item is not personal data); the manifest counts the users erased and carries
        the new content hash."""
        keep = ~np.isin(self.user_ids, np.asarray(list(user_ids), dtype=str))
        if keep.all():
            return None
        lengths = np.diff(self.indptr)
        entries = np.repeat(keep, lengths)
        manifest = {k: v for k, v in self.manifest.items() if k != "content_hash"}
        manifest["erased_users"] = int(manifest.get("erased_users", 0)) + int((~keep).sum())
        return Snapshot(
            user_ids=self.user_ids[keep],
            item_ids=self.item_ids,
            indptr=np.concatenate(([0], np.cumsum(lengths[keep]))),
            indices=self.indices[entries],
            weights=self.weights[entries],
            timestamps=self.timestamps[entries],
            category_indptr=self.category_indptr,
            category_indices=self.category_indices,
            category_names=self.category_names,
            item_titles=self.item_titles,
            manifest=manifest,
        )

    def save(self, directory: str | Path) -> Path:
        """Write ``*.npy`` arrays and ``manifest.json`` into ``directory`` (created if missing)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(out / f"{name}.npy", getattr(self, name), allow_pickle=False)
        if self.has_titles:
            np.save(out / f"{TITLES}.npy", self.titles, allow_pickle=False)
        else:  # a rewrite without titles must not leave an older file's behind
            (out / f"{TITLES}.npy").unlink(missing_ok=True)
        (out / MANIFEST).write_text(json.dumps(self.manifest, indent=2, sort_keys=True, default=str))
        return out

    @classmethod
    def load(cls, directory: str | Path, *, verify: bool = True) -> Snapshot:
        """Read a saved snapshot; with ``verify`` the content hash must match the manifest.

        A directory that is not a snapshot, a missing or unreadable file and a hash that does not match
        are each an :class:`~graphrec.data.errors.InputError` naming the file: a snapshot is often
        copied by hand, and a damaged one must say which file to replace, not fail deep in numpy."""
        from graphrec.data.errors import InputError

        src = Path(directory)
        if not (src / MANIFEST).is_file():
            raise InputError(src, None, f"not a snapshot directory (no {MANIFEST}; write one with graphrec export)")
        try:
            manifest = json.loads((src / MANIFEST).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(src / MANIFEST, None, f"corrupted: {exc}") from None
        if not isinstance(manifest, dict):
            raise InputError(src / MANIFEST, None, "corrupted: not a JSON object")
        arrays = {}
        optional = (TITLES,) if (src / f"{TITLES}.npy").is_file() else ()
        for name in _ARRAYS + optional:
            path = src / f"{name}.npy"
            try:
                arrays[name] = np.load(path, allow_pickle=False)
            except FileNotFoundError:
                raise InputError(path, None, "missing: the snapshot is incomplete (export it again)") from None
            except (OSError, ValueError, EOFError) as exc:
                raise InputError(path, None, f"corrupted ({exc}): export the snapshot again") from None
        try:
            snap = cls(**arrays, manifest=dict(manifest))
        except (ValueError, IndexError, TypeError) as exc:
            raise InputError(src, None, f"corrupted: its arrays do not fit together ({exc})") from None
        if verify and snap.content_hash() != manifest.get("content_hash"):
            raise InputError(
                src, None, "does not match its manifest's content hash: a file was changed or damaged (export it again)"
            )
        return snap


def forget_users_in_snapshots(root: Path, user_ids: Sequence[str]) -> list[str]:
    """Erasure in the snapshots under ``root`` (``graphrec export``'s default place): each one that holds
    any of ``user_ids`` is rewritten in place without their rows, under its old directory name (its
    manifest carries the new content hash). Returns the directories rewritten.

    Why rewrite rather than delete: a data scientist's snapshot stays usable for training and
    evaluation, minus the erased users, which is what a retrain after an erasure must see anyway."""
    if not root.is_dir() or not user_ids:
        return []
    changed = []
    for directory in sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()):
        smaller = Snapshot.load(directory, verify=False).without_users(user_ids)
        if smaller is not None:
            smaller.save(directory)
            changed.append(directory.name)
    return changed
