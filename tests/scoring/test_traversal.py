"""The evaluation scorer's batch and single-user paths, and rule 1 (which seeds) in isolation; the
full rule set is checked against the specification in test_traversal_agreement.py."""

from __future__ import annotations

import numpy as np
import pytest
from model.graphs import block_snapshot

from graphrec.scoring.traversal import TraversalScorer, _rule_one, select_seeds


def test_a_users_own_edges_given_alone_score_like_the_user() -> None:
    snap = block_snapshot(groups=2, users_per_group=6, items_per_group=5)
    scorer = TraversalScorer(
        snap.matrix("weights"), snap.matrix("timestamps"), half_life_days=7.0, seed_items=3, fanout=3, co_items=4
    )
    batch = scorer.score(np.arange(snap.n_users))
    for u in range(snap.n_users):
        row, ts = snap.matrix("weights")[u], snap.matrix("timestamps")[u]
        alone = scorer.score_user_items(row.indices, row.data, ts.data)
        np.testing.assert_array_equal(np.isfinite(alone), np.isfinite(batch[u]))
        np.testing.assert_allclose(alone[np.isfinite(alone)], batch[u][np.isfinite(batch[u])], rtol=1e-6)
    assert np.isfinite(batch).any()


def test_seeds_are_the_most_recent_liked_items_decayed_from_the_users_newest_edge() -> None:
    day = 86_400_000
    items = np.array(["a", "b", "c", "d", "e"])
    weights = np.array([2.0, -3.0, 1.0, 4.0, 1.0])
    last_ts = np.array([10 * day, 12 * day, 8 * day, 11 * day, 8 * day])
    pos, w = select_seeds(items, weights, last_ts, seed_items=3, half_life_days=1.0)
    assert items[pos].tolist() == ["d", "a", "c"]  # b is disliked; c and e tie on time: id order
    np.testing.assert_allclose(w, [4.0 * 0.5, 2.0 * 0.25, 1.0 / 16])  # from the newest edge (b, day 12)
    shifted = select_seeds(items, weights, last_ts + 20 * 365 * day, seed_items=3, half_life_days=1.0)
    np.testing.assert_array_equal(shifted[0], pos)
    np.testing.assert_allclose(shifted[1], w)  # the data set's age changes nothing


@pytest.mark.parametrize("seed_items", [None, 1, 3, 50])
@pytest.mark.parametrize("half_life_days", [None, 0.5, 30.0])
def test_one_users_seeds_are_the_grouped_rule_with_one_group(
    seed_items: int | None, half_life_days: float | None
) -> None:
    """select_seeds (one user, the request path) and _rule_one (many users, evaluation) are one rule."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(0, 30))
        items = rng.permutation(100)[:n]
        weights = rng.choice([-1.0, 0.0, 0.5, 1.0, 3.0], size=n)
        last_ts = 1_700_000_000_000 + rng.integers(0, 5, size=n) * 3_600_000  # ties on purpose
        one = select_seeds(items, weights, last_ts, seed_items=seed_items, half_life_days=half_life_days)
        grouped = _rule_one(
            np.zeros(n, dtype=np.int64), items, weights, last_ts, seed_items=seed_items, half_life_days=half_life_days
        )
        np.testing.assert_array_equal(one[0], grouped[0])
        np.testing.assert_allclose(one[1], grouped[1], rtol=0, atol=0)
