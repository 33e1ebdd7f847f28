"""The capped co-interaction traversal, written once as plain Python: the specification that the
store's Cypher (both dialects), the API's in-memory index, the evaluation scorer and the saved Browser
query are each checked against (tests/scoring/test_traversal_agreement.py).

Slow on purpose (dicts and sorted lists, no vectorisation): every rule is one readable line.

For user ``u``, with seeds ``S``, fan-out ``F``, co-items ``K``, half-life ``h``:

1. Seeds: ``u``'s ``S`` most recent edges with a positive weight (ties: item id ascending); a seed
   weighs ``w(u, s) * 0.5 ** ((t_ref - last_ts) / h)``, ``t_ref`` being ``u``'s newest edge.
2. Co-users of a seed ``s``: the ``F`` users with the largest positive ``w(v, s)`` (ties: user id).
   ``u`` may be one of them: its paths only reach its own items, which are never candidates.
3. Items of a co-user ``v``: the ``F`` edges of ``v`` with the largest ``|w(v, c)|`` (ties: item id),
   ``c`` other than ``s``. A negative ``w(v, c)`` (a co-user's dislike) counts against ``c``.
4. ``S(s, c) = sum over those paths of w(v, c) / sqrt(deg(s) * deg(c))``, ``deg`` = number of
   positive edges of an item (dislikes are not degree); each seed keeps its ``K`` best ``c`` by
   ``S(s, c)`` (ties: item id).
5. ``score(c) = sum over seeds of seed weight * S(s, c)``, for items ``u`` has no edge to (a disliked
   item counts as seen); only positive scores are candidates, best first (ties: item id).
6. Evidence of ``c``: its (at most 3) seeds with the largest positive ``seed weight * S(s, c)``
   (ties: seed id). Items without a positive edge have no degree and are never candidates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

Edge = tuple[str, str, float, int]  # user, item, weight, last_ts
DAY_MS = 86_400_000


def user_candidates(
    edges: Iterable[Edge], user: str, *, seeds: int, fanout: int, co_items: int, half_life_days: float, limit: int
) -> list[tuple[str, float, tuple[str, ...]]]:
    by_user: dict[str, list[Edge]] = defaultdict(list)
    by_item: dict[str, list[Edge]] = defaultdict(list)
    for e in edges:
        by_user[e[0]].append(e)
        by_item[e[1]].append(e)
    mine = by_user.get(user, [])
    if not mine:
        return []
    t_ref = max(e[3] for e in mine)
    positive = sorted((e for e in mine if e[2] > 0), key=lambda e: (-e[3], e[1]))[:seeds]
    seed_weight = {e[1]: e[2] * 0.5 ** ((t_ref - e[3]) / (half_life_days * DAY_MS)) for e in positive}
    degree = {item: sum(1 for e in es if e[2] > 0) for item, es in by_item.items()}
    seen = {e[1] for e in mine}
    per_seed: dict[str, dict[str, float]] = {}
    for s in seed_weight:
        co_users = sorted((e for e in by_item[s] if e[2] > 0), key=lambda e: (-e[2], e[0]))[:fanout]
        sums: dict[str, float] = defaultdict(float)
        for v, _, _, _ in co_users:
            for _, c, w2, _ in sorted(by_user[v], key=lambda e: (-abs(e[2]), e[1]))[:fanout]:
                if c != s:
                    sums[c] += w2
        scored = {c: total / math.sqrt(degree[s] * degree[c]) for c, total in sums.items() if degree.get(c)}
        per_seed[s] = dict(sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:co_items])
    score: dict[str, float] = defaultdict(float)
    via: dict[str, dict[str, float]] = defaultdict(dict)
    for s, w0 in seed_weight.items():
        for c, sc in per_seed[s].items():
            if c in seen:
                continue
            score[c] += w0 * sc
            via[c][s] = w0 * sc
    ranked = sorted(((c, total) for c, total in score.items() if total > 0), key=lambda kv: (-kv[1], kv[0]))
    return [
        (c, total, tuple(s for s, part in sorted(via[c].items(), key=lambda kv: (-kv[1], kv[0]))[:3] if part > 0))
        for c, total in ranked[:limit]
    ]
