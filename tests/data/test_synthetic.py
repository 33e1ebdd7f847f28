"""The synthetic generator's category focus: tastes that follow the shop's categories when asked, the
same data as ever when not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from graphrec.data.synthetic import SyntheticSpec, catalogue_path, generate


def top_category_share(events: Path) -> float:
    """Mean over users (10+ events) of the share of their events in their most frequent category."""
    rows = pacsv.read_csv(events)
    catalogue = pacsv.read_csv(catalogue_path(events))
    category_of = dict(zip(catalogue["item_id"].to_pylist(), catalogue["category"].to_pylist(), strict=True))
    names = sorted(set(category_of.values()))
    users, user_idx = np.unique(np.asarray(rows["user_id"].to_pylist()), return_inverse=True)
    cats = np.asarray([names.index(category_of[i]) for i in rows["item_id"].to_pylist()])
    counts = np.zeros((len(users), len(names)))
    np.add.at(counts, (user_idx, cats), 1)
    counts = counts[counts.sum(axis=1) >= 10]
    return float(np.mean(counts.max(axis=1) / counts.sum(axis=1)))


def test_category_focus_concentrates_each_users_events(tmp_path: Path) -> None:
    spec = SyntheticSpec(interactions=20_000, seed=5, categories=6)
    plain = generate(spec, tmp_path / "plain.csv")
    focused = generate(SyntheticSpec(interactions=20_000, seed=5, categories=6, category_focus=0.9),
                       tmp_path / "focused.csv")
    assert (plain.users, plain.items, plain.events) == (focused.users, focused.items, focused.events)
    assert catalogue_path(plain.events_path).read_bytes() == catalogue_path(focused.events_path).read_bytes()
    unfocused, concentrated = top_category_share(plain.events_path), top_category_share(focused.events_path)
    assert concentrated > 0.85 and concentrated > unfocused + 0.1, (unfocused, concentrated)


@pytest.mark.parametrize("focus", [-0.1, 1.5])
def test_focus_out_of_range_is_refused(tmp_path: Path, focus: float) -> None:
    with pytest.raises(ValueError, match="category_focus"):
        generate(SyntheticSpec(interactions=100, category_focus=focus), tmp_path / "x.csv")
