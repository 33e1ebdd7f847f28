"""The numpy traversal scorer equals an explicit enumeration of user -> seed -> co-user -> item paths."""

from __future__ import annotations

import math

import numpy as np
from model.graphs import block_snapshot

from graphrec.events.decay import decay_weights
from graphrec.scoring.traversal import TraversalScorer


def _enumerate_paths(w: np.ndarray, ts: np.ndarray, user: int, now_ms: int, half_life: float) -> np.ndarray:
    n_users, n_items = w.shape
    deg = (w > 0).sum(0)
    scores = np.zeros(n_items)
    for seed in np.flatnonzero(w[user]):
        d = float(decay_weights(w[user, seed:seed + 1], ts[user, seed:seed + 1], now_ms=now_ms,
                                half_life_days=half_life)[0])
        for co in np.flatnonzero(w[:, seed]):
            if co == user:
                continue
            for cand in np.flatnonzero(w[co]):
                scores[cand] += d * w[co, cand] / math.sqrt(deg[seed] * deg[cand])
    scores[w[user] > 0] = -np.inf
    return scores


def test_matches_path_enumeration() -> None:
    snap = block_snapshot(groups=2, users_per_group=6, items_per_group=5)
    w = snap.matrix("weights").toarray().astype(np.float64)
    ts = snap.matrix("timestamps").toarray()
    now = int(snap.timestamps.max())
    scorer = TraversalScorer(snap.matrix("weights"), snap.matrix("timestamps"), half_life_days=7.0)
    users = np.arange(snap.n_users)
    got = scorer.score(users, now_ms=now)
    for u in users:
        np.testing.assert_allclose(got[u], _enumerate_paths(w, ts, u, now, 7.0), rtol=1e-5)
    # the same user given as a bare neighbourhood (the API's new-user path) scores the same,
    # except that the user's own training edges are no longer in the graph twice
    u = 0
    row = snap.matrix("weights")[u]
    alone = scorer.score_user_items(row.indices, row.data, snap.matrix("timestamps")[u].data, now_ms=now)
    finite = np.isfinite(got[u])
    assert np.array_equal(np.isfinite(alone), finite)
    assert np.corrcoef(alone[finite], got[u][finite])[0, 1] > 0.95


def test_seed_cap_uses_most_recent_items() -> None:
    snap = block_snapshot(groups=2, users_per_group=6, items_per_group=5)
    capped = TraversalScorer(snap.matrix("weights"), snap.matrix("timestamps"), seed_items=1)
    ts = snap.matrix("timestamps")[0]
    latest = ts.indices[np.argmax(ts.data)]
    got = capped.score(np.array([0]), now_ms=0)[0]
    ref = TraversalScorer(snap.matrix("weights"), snap.matrix("timestamps"))
    x = snap.matrix("weights")[0]
    ref_scores = ref.score_user_items(np.array([latest]), np.array([x[0, latest]]), np.array([0]), now_ms=0)
    own = x.indices
    mask = np.ones(snap.n_items, bool)
    mask[own] = False
    np.testing.assert_allclose(got[mask], ref_scores[mask], rtol=1e-5)
