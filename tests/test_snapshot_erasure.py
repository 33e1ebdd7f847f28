"""Erasure in exported snapshots (Snapshot.without_users, forget_users_in_snapshots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphrec.snapshot import Snapshot, forget_users_in_snapshots


def _snapshot() -> Snapshot:
    # u0: i0, i1; u1: i1; u2: i0, i2
    return Snapshot(
        user_ids=np.array(["u0", "u1", "u2"]),
        item_ids=np.array(["i0", "i1", "i2"]),
        indptr=np.array([0, 2, 3, 5]),
        indices=np.array([0, 1, 1, 0, 2]),
        weights=np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        timestamps=np.array([10, 20, 30, 40, 50]),
        category_indptr=np.array([0, 0, 0, 0]),
        category_indices=np.array([], dtype=np.int64),
        category_names=np.array([], dtype=str),
    )


def test_a_users_row_goes_and_everyone_elses_stays_exactly() -> None:
    before = _snapshot()
    after = before.without_users(["u1"])
    assert after is not None
    assert after.user_ids.tolist() == ["u0", "u2"]
    assert after.indptr.tolist() == [0, 2, 4]
    assert after.indices.tolist() == [0, 1, 0, 2]
    assert after.weights.tolist() == [1.0, 2.0, 4.0, 5.0]
    assert after.timestamps.tolist() == [10, 20, 40, 50]
    assert after.item_ids.tolist() == before.item_ids.tolist()
    assert after.manifest["erased_users"] == 1 and after.manifest["n_users"] == 2
    assert after.manifest["content_hash"] == after.content_hash() != before.content_hash()


def test_a_snapshot_without_the_users_is_left_alone() -> None:
    assert _snapshot().without_users(["nobody"]) is None


def test_snapshots_on_disk_that_hold_the_user_are_rewritten_and_still_load(tmp_path: Path) -> None:
    _snapshot().save(tmp_path / "a")
    _snapshot().without_users(["u2"]).save(tmp_path / "b")  # type: ignore[union-attr]
    untouched = (tmp_path / "b" / "indices.npy").read_bytes()
    assert forget_users_in_snapshots(tmp_path, ["u2"]) == ["a"]
    assert b"u2" not in (tmp_path / "a" / "user_ids.npy").read_bytes()
    assert Snapshot.load(tmp_path / "a").user_ids.tolist() == ["u0", "u1"]  # the content hash holds
    assert (tmp_path / "b" / "indices.npy").read_bytes() == untouched
    assert forget_users_in_snapshots(tmp_path / "missing", ["u2"]) == []
