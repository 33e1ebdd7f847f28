"""Erasure in the model versions on disk: every version stops holding an erased user's id and rows.

Why at erasure time and not at the next publish: a version directory keeps the user's id
(``user_ids.npy``), their final and per-layer embeddings, their degree, their id-embedding row in
``weights.pt`` and their held-out and training pairs (``holdout.npz``); the next version would drop
them only from itself, and older versions stay on disk for rollback and comparison. So every version
under ``models_path`` is edited when the user is erased:

- the ``.npy`` rows are overwritten in place (memory-mapped writes, flushed): the id becomes the empty
  string and the vectors zeros. In place on purpose: a serving process maps ``user_ids.npy``
  (:meth:`graphrec.model.artifact.ModelArtifact.user_index` checks it), so every worker serving the
  version stops knowing the user the moment the id is blanked, without a reload, and row numbers
  (which the other arrays and the model share) do not move;
- ``weights.pt`` and ``holdout.npz`` are rewritten (a new file replacing the old atomically) with the
  row zeroed and the pairs dropped.

Aggregates (metrics, blend weights, item neighbour counts, the ANN index over items) are left as they
are: they were computed with the user but do not identify them. One erasure edits at a time (a lock
file beside the versions), so two erasures cannot undo each other's ``weights.pt`` edit.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from graphrec.model.gate import HOLDOUT_FILE

_LOCK = ".erasure.lock"
_ZEROED_ROWS = ("user_embeddings", "user_degree")  # one row per user
_ZEROED_COLUMNS = ("user_layers",)  # (layers, users, dim)
_ID_TABLE = "user_embedding.weight"  # GraphSAGERec's id embeddings, one row per user


def forget_users(models_path: Path, user_ids: Sequence[str]) -> list[str]:
    """Remove ``user_ids`` from every version directory under ``models_path`` (see the module docstring);
    returns the versions that held any of them."""
    if not models_path.is_dir() or not user_ids:
        return []
    changed = []
    with _locked(models_path):
        for directory in sorted(p for p in models_path.iterdir() if (p / "user_ids.npy").is_file()):
            if _forget_in(directory, list(user_ids)):
                changed.append(directory.name)
    return changed


def _forget_in(directory: Path, user_ids: list[str]) -> bool:
    ids = np.load(directory / "user_ids.npy", mmap_mode="r+", allow_pickle=False)
    rows = np.flatnonzero(np.isin(ids, user_ids))
    found = bool(rows.size)
    if found:
        for name in _ZEROED_ROWS:
            _zero(directory / f"{name}.npy", rows, axis=0)
        for name in _ZEROED_COLUMNS:
            _zero(directory / f"{name}.npy", rows, axis=1)
        _zero_weights(directory / "weights.pt", rows)
        ids[rows] = ""  # last: until now the user is still served from consistent rows
        ids.flush()
    del ids
    return _drop_holdout_pairs(directory / HOLDOUT_FILE, user_ids) or found


def _zero(path: Path, rows: np.ndarray, *, axis: int) -> None:
    if not path.exists():
        return
    arr = np.load(path, mmap_mode="r+", allow_pickle=False)
    if axis == 0:
        arr[rows] = 0
    else:
        arr[:, rows] = 0
    arr.flush()


def _zero_weights(path: Path, rows: np.ndarray) -> None:
    if not path.exists():
        return
    state = torch.load(path, weights_only=True)
    if _ID_TABLE in state:
        state[_ID_TABLE][torch.from_numpy(rows)] = 0
        with _replacing(path) as tmp:
            torch.save(state, tmp)


def _drop_holdout_pairs(path: Path, user_ids: list[str]) -> bool:
    if not path.exists():
        return False
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    keep_test = ~np.isin(data["test_users"], user_ids)
    keep_train = ~np.isin(data["train_users"], user_ids)
    if keep_test.all() and keep_train.all():
        return False
    for side, keep in (("test", keep_test), ("train", keep_train)):
        data[f"{side}_users"] = data[f"{side}_users"][keep]
        data[f"{side}_items"] = data[f"{side}_items"][keep]
    with _replacing(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **data)
    return True


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temp file beside ``path`` that replaces it atomically (fsynced) when the block ends."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _locked(models_path: Path) -> Iterator[None]:
    with open(models_path / _LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
