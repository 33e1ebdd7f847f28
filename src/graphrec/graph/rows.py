"""Conversions between domain records and the Cypher parameter/property maps every adapter uses.

Both adapters send the same edge-delta rows and read the same edge properties (``weight``,
``count``, ``first_ts``, ``last_ts``, ``n_<type>``, ``s_<type>``), so the mapping lives here once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from graphrec.event_types import COUNT_PROPS, SUM_PROPS
from graphrec.graph.errors import BadStoreInput
from graphrec.graph.records import CatalogueItem, Interaction, InteractionDelta, ItemRecord, UserHistory, UserRecord


def delta_row(d: InteractionDelta) -> dict[str, Any]:
    """The parameter row for one edge delta; absent per-type keys leave those properties alone; ``k``, the
    sender, is always there ("" for a trusted one), so the edge's ``client`` is never set to null; ``x``,
    the weight cap, is null when the delta names none (the edge keeps its own)."""
    row: dict[str, Any] = {
        "u": d.user_id,
        "i": d.item_id,
        "w": float(d.weight),
        "c": int(d.count),
        "f": int(d.first_ts),
        "l": int(d.last_ts),
        "k": d.client,
        "x": cap_param(d.weight_cap),
    }
    for t, n in d.type_counts.items():
        row[f"n_{t}"] = int(n)
    for t, v in d.value_sums.items():
        row[f"s_{t}"] = float(v)
    return row


def cap_param(cap: float | None) -> float | None:
    """A weight cap as the statements take it: positive, or None (no cap named). Why refused otherwise:
    the store reads an edge's sign, and so the endpoints' degrees, off its raw sum, which is the
    saturated weight's sign only under a positive cap (``statements.merge_edge``)."""
    if cap is None:
        return None
    if not cap > 0:  # NaN too
        raise BadStoreInput(f"a weight cap must be positive, not {cap!r}")
    return float(cap)


def history_from_rows(rows: Sequence[Sequence[Any]]) -> UserHistory:
    """``(item id, weight, last_ts)`` rows as columns; weights may arrive as decimal strings (FalkorDB's
    plain reply format), which the float cast parses."""
    if not rows:
        return UserHistory.empty()
    items, weights, last_ts = zip(*rows, strict=True)
    import numpy as np  # here, not at the top: the CLI's start-up does not need it

    return UserHistory(list(items), np.array(weights, dtype=np.float64), np.array(last_ts, dtype=np.int64))


def interaction_from_props(user_id: str, item_id: str, props: Mapping[str, Any]) -> Interaction:
    """An edge's stored properties as an :class:`Interaction`; absent per-type counts are zero."""
    return Interaction(
        user_id=user_id,
        item_id=item_id,
        weight=float(props.get("weight", 0.0)),
        count=int(props.get("count", 0)),
        first_ts=int(props.get("first_ts", 0)),
        last_ts=int(props.get("last_ts", 0)),
        type_counts={p[2:]: int(props[p]) for p in COUNT_PROPS if props.get(p) is not None},
        value_sums={p[2:]: float(props[p]) for p in SUM_PROPS if props.get(p) is not None},
    )


_INTERNAL_USER_PROPS = ("id", "embedding")


def user_from_props(user_id: str, props: Mapping[str, Any]) -> UserRecord:
    """A user node's properties as a record, without the key and the stored embedding."""
    return UserRecord(id=user_id, props={k: v for k, v in props.items() if k not in _INTERNAL_USER_PROPS})


def user_row(u: UserRecord) -> dict[str, Any]:
    """The parameter row for one user upsert (properties are merged onto the node)."""
    return {"id": u.id, "props": dict(u.props)}


def item_row(it: ItemRecord) -> dict[str, Any]:
    """The parameter row for one item upsert: properties (with the title) and category names."""
    props = dict(it.props)
    if it.title is not None:
        props["title"] = it.title
    return {"id": it.id, "props": props, "categories": list(it.categories)}


def catalogue_row(it: CatalogueItem) -> dict[str, Any]:
    """The parameter row for one catalogue upsert: every field (None removes the property), the
    categories sorted and without repeats. ``provisional`` is not a field: an upsert clears it."""
    return {
        "id": it.id,
        "title": it.title,
        "url": it.url,
        "image_url": it.image_url,
        "price": None if it.price is None else float(it.price),
        "currency": it.currency,
        "available": bool(it.available),
        "attributes": attributes_text(it.attributes),
        "categories": sorted(set(it.categories)),
    }


def attributes_text(attributes: Sequence[tuple[str, str]]) -> str | None:
    """An item's attributes as the store keeps them: one JSON object, keys sorted (None: no attributes)."""
    return json.dumps(dict(sorted(attributes)), ensure_ascii=False, sort_keys=True) if attributes else None


def attributes_of(text: object) -> tuple[tuple[str, str], ...]:
    """The stored JSON object back as sorted ``(name, value)`` pairs; anything else (none, or a value
    another writer left) reads as no attributes rather than failing a whole page."""
    if not isinstance(text, str | bytes) or not text:
        return ()
    try:
        loaded = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(loaded, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in loaded.items()))


def catalogue_item_from_row(row: Sequence[Any]) -> CatalogueItem:
    """``(id, title, url, image_url, price, currency, available, provisional, categories, attributes)`` as
    a record; categories come unordered from the store and are sorted here."""
    item_id, title, url, image_url, price, currency, available, provisional, categories, attributes = row
    return CatalogueItem(
        id=item_id,
        title=title,
        categories=tuple(sorted(categories or ())),
        url=url,
        image_url=image_url,
        price=None if price is None else float(price),
        currency=currency,
        available=bool(available),
        provisional=bool(provisional),
        attributes=attributes_of(attributes),
    )


def rows_by_user(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Delta rows (sorted by user, then item, as the Neo4j adapter sorts them) grouped per user, the
    parameter of Neo4j's ``UPSERT_INTERACTIONS``: ``{u: user id, rows: [its rows], at: {item id: index
    in rows}}``. ``at`` lets the statement find, for each of the user's edges, the row that adds to it;
    the rows name each (user, item) once (the adapter folds a pair named twice before)."""
    groups: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in rows:
        if current is None or current["u"] != r["u"]:
            current = {"u": r["u"], "rows": [], "at": {}}
            groups.append(current)
        current["at"][r["i"]] = len(current["rows"])
        current["rows"].append(r)
    return groups
