"""Cursor paging shared by every adapter: the algorithm is the store's, only the Cypher differs.

Pages follow an id cursor (``WHERE x.id > $after ORDER BY x.id LIMIT $limit``), never ``SKIP``,
which is linear in its offset. Each adapter passes its read function and its own query constants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from graphrec.graph.records import GraphCounts, InteractionPage, ItemPage, UserRecord
from graphrec.graph.rows import user_from_props

Read = Callable[[str, Mapping[str, Any]], Sequence[Sequence[Any]]]


def page_users(read: Read, query: str, *, page_size: int) -> Iterator[list[UserRecord]]:
    after = ""
    while rows := read(query, {"after": after, "limit": int(page_size)}):
        yield [user_from_props(r[0], r[1]) for r in rows]
        after = rows[-1][0]


def page_items(read: Read, query: str, *, page_size: int) -> Iterator[ItemPage]:
    after = ""
    while rows := read(query, {"after": after, "limit": int(page_size)}):
        yield ItemPage(ids=[r[0] for r in rows], titles=[r[1] for r in rows],
                       categories=[sorted(r[2]) for r in rows])
        after = rows[-1][0]


def page_interactions(read: Read, *, user_ids_query: str, edges_query: str, counts: GraphCounts,
                      page_size: int, since_ms: int | None) -> Iterator[InteractionPage]:
    """Edges of chunks of users whose degrees add up to about ``page_size`` (mean degree estimate)."""
    per_user = max(1.0, counts.interactions / max(1, counts.users))
    users_per_page = max(1, int(page_size / per_user))
    since = int(since_ms) if since_ms is not None else -(2**62)
    after = ""
    while ids := [r[0] for r in read(user_ids_query, {"after": after, "limit": users_per_page})]:
        after = ids[-1]
        rows = read(edges_query, {"ids": ids, "since": since})
        if rows:
            users, items, weights, counts_, first, last = zip(*rows, strict=True)
            # numpy converts whole columns in C (some stores send doubles as decimal strings)
            yield InteractionPage(user_ids=list(users), item_ids=list(items),
                                  weights=np.asarray(weights, dtype=np.float64).tolist(),
                                  counts=np.asarray(counts_, dtype=np.int64).tolist(),
                                  first_ts=np.asarray(first, dtype=np.int64).tolist(),
                                  last_ts=np.asarray(last, dtype=np.int64).tolist())
