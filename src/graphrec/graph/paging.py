"""Cursor paging shared by every adapter: the algorithm is the store's, only the Cypher differs.

Pages follow an id cursor (``WHERE x.id > $after ORDER BY x.id LIMIT $limit``), never ``SKIP``,
which is linear in its offset. Each adapter passes its read function and its own query constants.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from graphrec.graph.records import GraphCounts, Interaction, InteractionPage, ItemPage, UserRecord
from graphrec.graph.rows import attributes_of, interaction_from_props, user_from_props

Read = Callable[[str, Mapping[str, Any]], Sequence[Sequence[Any]]]
T = TypeVar("T")
_DONE = object()


def prefetched(source: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``source`` on a background thread, ``depth`` items ahead of the consumer.

    Why: a page read is mostly waiting for the server (the socket read releases the GIL), and the
    consumer's decoding is pure client CPU; overlapping the two keeps both the store and the client
    busy instead of taking turns. Errors raised by ``source`` are re-raised in the consumer; a
    consumer that stops early (``close()``, garbage collection) stops the reader at its next page.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            slots.put(exc)

    reader = threading.Thread(target=pump, name="graphrec-prefetch", daemon=True)
    reader.start()
    try:
        while (item := slots.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def page_users(read: Read, query: str, *, page_size: int) -> Iterator[list[UserRecord]]:
    after = ""
    while rows := read(query, {"after": after, "limit": int(page_size)}):
        yield [user_from_props(r[0], r[1]) for r in rows]
        after = rows[-1][0]


def page_items(read: Read, query: str, *, page_size: int) -> Iterator[ItemPage]:
    """Items with their sorted categories, catalogue links, availability and attributes, from ``(item id,
    title, category or null, url, image_url, price, currency, available, attributes, listed_ms)`` rows,
    one per (item, category): flat rows suit every reply format (plain replies carry no lists)."""
    after = ""
    while rows := read(query, {"after": after, "limit": int(page_size)}):
        titles: dict[str, str | None] = {}
        cats: dict[str, list[str]] = {}
        links: dict[str, tuple[str | None, str | None, float | None, str | None]] = {}
        available: dict[str, bool] = {}
        attributes: dict[str, tuple[tuple[str, str], ...]] = {}
        listed: dict[str, int | None] = {}
        for item_id, title, category, url, image_url, price, currency, is_available, attribute_text, listed_ms in rows:
            titles[item_id] = title
            names = cats.setdefault(item_id, [])
            if category is not None:
                names.append(category)
            # prices may come as decimal strings (FalkorDB's plain replies)
            links[item_id] = (url, image_url, None if price is None else float(price), currency)
            # a boolean, or its text in FalkorDB's plain replies
            available[item_id] = is_available not in (False, "false", b"false")
            attributes[item_id] = attributes_of(attribute_text)
            listed[item_id] = None if listed_ms is None else int(listed_ms)
        ids = sorted(titles)
        yield ItemPage(
            ids=ids,
            titles=[titles[i] for i in ids],
            categories=[sorted(cats[i]) for i in ids],
            links=[links[i] for i in ids],
            available=[available[i] for i in ids],
            attributes=[attributes[i] for i in ids],
            listed_ms=[listed[i] for i in ids],
        )
        after = ids[-1]


def users_per_page(counts: GraphCounts, page_size: int) -> int:
    """How many users' edges make about ``page_size`` edges, by the mean degree."""
    per_user = max(1.0, counts.interactions / max(1, counts.users))
    return max(1, int(page_size / per_user))


def _edge_row_pages(
    read: Read, user_ids_query: str, edges_query: str, users: int, **params: Any
) -> Iterator[Sequence[Sequence[Any]]]:
    after = ""
    while ids := [r[0] for r in read(user_ids_query, {"after": after, "limit": users})]:
        after = ids[-1]
        if rows := read(edges_query, {"ids": ids, **params}):
            yield rows


def page_interactions(
    read: Read,
    *,
    user_ids_query: str,
    edges_query: str,
    counts: GraphCounts,
    page_size: int,
    since_ms: int | None,
    with_clients: bool = False,
) -> Iterator[InteractionPage]:
    """Edges of chunks of users whose degrees add up to about ``page_size`` (mean degree estimate).

    ``read`` must be callable from another thread (the next page is fetched while this one is
    decoded): both adapters' reads take a pooled connection per call. ``with_clients``: ``edges_query``
    returns a fifth column, each edge's sender (``InteractionPage.clients``).
    """
    import numpy as np  # here, not at the top: the CLI's start-up does not need it

    since = int(since_ms) if since_ms is not None else -(2**62)
    pages = _edge_row_pages(read, user_ids_query, edges_query, users_per_page(counts, page_size), since=since)
    width = 5 if with_clients else 4
    for rows in prefetched(pages):
        # one 2-D object array, then whole-column casts in C (some stores send doubles as decimal
        # strings); 5x cheaper than zip(*rows) + per-column numpy conversion
        table = np.array(rows, dtype=object).reshape(len(rows), width)
        yield InteractionPage(
            user_ids=table[:, 0],
            item_ids=table[:, 1],
            weights=table[:, 2].astype(np.float64),
            last_ts=table[:, 3].astype(np.int64),
            clients=table[:, 4] if with_clients else None,
        )


def page_aggregates(
    read: Read, *, user_ids_query: str, aggregates_query: str, counts: GraphCounts, page_size: int
) -> Iterator[list[Interaction]]:
    """Edges with every aggregate, from ``(user id, item id, edge properties)`` rows; a page holds
    whole users, in ascending user id order."""
    for rows in _edge_row_pages(read, user_ids_query, aggregates_query, users_per_page(counts, page_size)):
        yield [interaction_from_props(r[0], r[1], r[2]) for r in rows]
