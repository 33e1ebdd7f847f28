"""Datasets for ``graphrec evaluate``: MovieLens ``u.data``, events files, LightGCN ``train.txt``/``test.txt``.

MovieLens ratings are read by one of :mod:`graphrec.data.ratings`'s modes: ``implicit`` (the default,
LightGCN-style: every rating an interaction of weight 1), or ``positive``/``signed`` (only 4 and 5
stars are positives, weighing 1.5 and 3.0 as the packaged policy weighs the imported edges). The
files are read where they are; nothing is copied into the repository (MovieLens's licence forbids
redistribution). With ``content``, MovieLens items also get their titles and genres (``u.item``; the
content features of :mod:`graphrec.model.content` and the cold-items protocol read them); without it a
MovieLens snapshot is the ratings alone, as the edge-holdout tables have always been measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from graphrec.data.errors import InputError
from graphrec.data.ratings import RatingMode, rating_weights
from graphrec.evaluation.splits import Split, given_split
from graphrec.graph.records import ItemRecord
from graphrec.snapshot import Snapshot


def with_item_content(snapshot: Snapshot, items: Sequence[ItemRecord]) -> Snapshot:
    """``snapshot`` with the titles and categories ``items`` give its items (items it does not hold are
    ignored; its items ``items`` does not describe get none)."""
    position = {item_id: k for k, item_id in enumerate(snapshot.item_ids.tolist())}
    described = [(position[str(it.id)], it) for it in items if str(it.id) in position]
    titles = np.zeros(snapshot.n_items, dtype=object)
    titles[:] = ""
    for k, it in described:
        titles[k] = it.title or ""
    names = np.array(sorted({c for _, it in described for c in it.categories}), dtype=str)
    pairs = np.array([(k, int(np.searchsorted(names, c))) for k, it in described for c in it.categories], np.int64)
    pairs = pairs.reshape(-1, 2)
    categories = sp.csr_matrix(
        (np.ones(len(pairs), np.float32), (pairs[:, 0], pairs[:, 1])), shape=(snapshot.n_items, len(names))
    )
    return Snapshot.from_coo(
        user_ids=snapshot.user_ids,
        item_ids=snapshot.item_ids,
        rows=snapshot.rows,
        cols=snapshot.indices,
        weights=snapshot.weights,
        timestamps=snapshot.timestamps,
        item_categories=categories,
        category_names=names,
        item_titles=titles.astype(str),
        manifest={k: v for k, v in snapshot.manifest.items() if k != "content_hash"} | {"content": True},
    )


def load_movielens(path: str | Path, *, ratings: RatingMode = "implicit", content: bool = False) -> Snapshot:
    """Read ``u.data`` (``user\\titem\\trating\\tts`` seconds) or ``ratings.dat`` (``::``) under ``path``;
    with ``content``, the movies' titles and genres too (:func:`graphrec.data.readers.read_movielens_items`)."""
    root = Path(path)
    file = next((root / name for name in ("u.data", "ratings.dat") if (root / name).is_file()), None)
    if file is None:
        found = "no u.data or ratings.dat in this directory" if root.is_dir() else "no such directory"
        raise InputError(root, None, f"{found} (movielens: wants MovieLens 100K's or 1M's directory)")
    try:
        if file.name == "u.data":
            raw = np.loadtxt(file, dtype=np.int64, delimiter="\t", ndmin=2)
        else:
            raw = np.array([line.split("::") for line in file.read_text().splitlines() if line], dtype=np.int64)
    except ValueError as exc:
        raise InputError(file, None, f"not MovieLens ratings (user, item, rating, time per line): {exc}") from None
    if raw.ndim != 2 or raw.shape[1] < 4:
        raise InputError(file, None, "not MovieLens ratings (user, item, rating, time per line)")
    weights = rating_weights(raw[:, 2], ratings)
    raw, weights = raw[weights > 0], weights[weights > 0]
    users, u_idx = np.unique(raw[:, 0], return_inverse=True)
    items, i_idx = np.unique(raw[:, 1], return_inverse=True)
    snapshot = Snapshot.from_coo(
        user_ids=users.astype(str),
        item_ids=items.astype(str),
        rows=u_idx,
        cols=i_idx,
        weights=weights.astype(np.float32),
        timestamps=raw[:, 3] * 1000,
        manifest={"source": f"movielens:{root}", "ratings": ratings},
    )
    if not content:
        return snapshot
    from graphrec.data.readers import read_movielens_items

    return with_item_content(snapshot, read_movielens_items(root))


def load_events(path: str | Path, *, titles: bool = False) -> Snapshot:
    """An events file (``user_id,item_id,event_type,timestamp[,value]``; ``graphrec generate`` writes
    one) as a fresh store would hold it after ``graphrec import --format events``: the same reader and
    validation, one edge per (user, item) weighed by the packaged policy (static dwell cap) and stamped
    with its newest event, item categories (and with ``titles`` the titles) from the catalogue beside the
    file. Like the export, only
    edges with a positive weight are kept; unlike it, weights are not decayed (a file has no "now"; as
    with MovieLens, every model sees the same weights)."""
    from graphrec.data.columns import aggregate
    from graphrec.data.readers import read_events
    from graphrec.events.policy import load_policy, policy_weigher

    file = Path(path)
    dataset = read_events(file)
    edges = aggregate(dataset.events, policy_weigher(load_policy()))
    weights = edges.column("w").to_numpy()
    keep = weights > 0
    users, u_idx = np.unique(edges.column("u").to_numpy(zero_copy_only=False).astype(str)[keep], return_inverse=True)
    items, i_idx = np.unique(edges.column("i").to_numpy(zero_copy_only=False).astype(str)[keep], return_inverse=True)
    names = np.array(sorted({c for item in dataset.items for c in item.categories}), dtype=str)
    position = {item: k for k, item in enumerate(items.tolist())}
    pairs = [
        (position[item.id], int(np.searchsorted(names, c)))
        for item in dataset.items
        if item.id in position
        for c in item.categories
    ]
    rows, cols = (np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64))
    categories = sp.csr_matrix((np.ones(len(pairs), np.float32), (rows, cols)), shape=(len(items), len(names)))
    return Snapshot.from_coo(
        user_ids=users,
        item_ids=items,
        rows=u_idx,
        cols=i_idx,
        weights=weights[keep].astype(np.float32),
        timestamps=edges.column("l").to_numpy()[keep].astype(np.int64),
        item_categories=categories,
        category_names=names,
        item_titles=_titles(items, dataset.items) if titles else None,
        manifest={"source": f"events:{file}", "policy": "packaged"},
    )


def _titles(item_ids: np.ndarray, items: Sequence[ItemRecord]) -> np.ndarray:
    """The title of each of ``item_ids`` that ``items`` give (``""`` for the others)."""
    given = {str(it.id): it.title or "" for it in items}
    return np.array([given.get(i, "") for i in item_ids.tolist()], dtype=str)


def _read_adjacency_lists(path: Path) -> tuple[np.ndarray, np.ndarray]:
    users: list[np.ndarray] = []
    items: list[np.ndarray] = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        ids = np.asarray(parts, dtype=np.int64)
        users.append(np.full(len(ids) - 1, ids[0], dtype=np.int64))
        items.append(ids[1:])
    if not users:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(users), np.concatenate(items)


def load_lightgcn(train_txt: str | Path, test_txt: str | Path) -> Split:
    """Read LightGCN's ``user item item ...`` files as a given split (no timestamps: all zero)."""
    tr_u, tr_i = _read_adjacency_lists(Path(train_txt))
    te_u, te_i = _read_adjacency_lists(Path(test_txt))
    u = np.concatenate([tr_u, te_u])
    i = np.concatenate([tr_i, te_i])
    users, u_idx = np.unique(u, return_inverse=True)
    items, i_idx = np.unique(i, return_inverse=True)
    is_test = np.concatenate([np.zeros(len(tr_u), bool), np.ones(len(te_u), bool)])
    # a pair in both files counts once, as training
    key = u_idx * len(items) + i_idx
    order = np.lexsort((is_test, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    full = Snapshot.from_coo(
        user_ids=users.astype(str),
        item_ids=items.astype(str),
        rows=u_idx[keep],
        cols=i_idx[keep],
        weights=np.ones(len(keep), dtype=np.float32),
        timestamps=np.zeros(len(keep), dtype=np.int64),
        manifest={"source": f"lightgcn:{train_txt},{test_txt}"},
    )
    # from_coo sorts by (row, col) == key; map the test flag onto that order
    test_keys = np.sort(key[keep][is_test[keep]])
    full_keys = full.rows * full.n_items + full.indices
    return given_split(full, np.isin(full_keys, test_keys, assume_unique=False))
