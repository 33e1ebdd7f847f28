"""THE rule for combining interaction deltas into one ``(:User)-[:INTERACTED]->(:Item)`` edge.

An edge is the combination, in write order, of every delta written onto it: the deltas' weights add
up into ``raw_weight``, ``count`` and every per-type amount (``n_<type>``, ``s_<type>``) add up,
``first_ts`` keeps the earliest, ``last_ts`` the latest, ``client`` the sender of the last delta
written and ``weight_cap`` the last cap a delta named. The edge's ``weight``, what every reader uses
(traversal, trending, export, GDS), is ``raw_weight`` **saturated** at ``weight_cap``
(:func:`saturate`: clamped to ``[-cap, cap]``; no cap: the raw sum).

Why saturate the sum instead of each delta: the cap must hold however the events were cut into
batches and group writes, and a clamp of a running total is not associative (an edge at its cap plus
a dislike would end elsewhere than the same deltas folded first). Clamping the one additive total,
kept beside it, is: the edge's ``weight`` depends only on the sum of what was written. Why a cap on
the edge at all: a bot (or a broken tracker) repeating one event on one item grew the edge without
bound (300 clicks weighed 300 and pulled one film into a community of its own); the weighting policy
names the cap (:mod:`graphrec.events.policy`, ``[saturation]``) and every delta it weighs carries it.

Three writers apply that rule at three scales: the ingest pipeline folds a batch's events into one
delta per (user, item) (:func:`graphrec.events.pipeline.aggregate`), group commit folds concurrent
batches into one store write (:func:`graphrec.events.group_commit.merge_deltas`), and each store folds
a written delta onto the stored edge (the ``MERGE ... SET`` of
:func:`graphrec.graph.cypher.statements.merge_edge`, which both adapters send). Why one table:
written three times, the rule could drift, and an edge would then depend on whether its batch
happened to share a group write. So :data:`EDGE_RULE` and :data:`PER_TYPE_RULE` say how each property
combines, and :data:`APPLY` what each combination means in Python; ``merge_edge`` renders the table
in Cypher, :func:`fold` spells it out in Python, and ``tests/graph/test_edge_combination.py`` holds
the fold to the table property by property and to the Cypher on the embedded store.

The rule lives in the graph layer because the Cypher that renders it does, and because
:class:`~graphrec.graph.records.InteractionDelta`, what it combines, is a graph-port record; the
ingest layer above imports it. Each edge property has the name of the delta's field it comes from,
but for ``raw_weight`` (:data:`STORED_AS`) and the derived ``weight``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, Final, Protocol

from graphrec.graph.records import InteractionDelta


class Combine(Enum):
    """How a delta's value of one edge property combines with the edge's value."""

    ADD = "add"  # the amounts add up
    EARLIEST = "earliest"  # the smaller stands
    LATEST = "latest"  # the larger stands
    LAST_WRITE = "last write"  # the value of the delta written last stands (a delta without one: the edge's)


EDGE_RULE: Final[Mapping[str, Combine]] = MappingProxyType(
    {
        "weight": Combine.ADD,
        "count": Combine.ADD,
        "first_ts": Combine.EARLIEST,
        "last_ts": Combine.LATEST,
        "client": Combine.LAST_WRITE,
        "weight_cap": Combine.LAST_WRITE,
    }
)
"""Every field every delta carries (:class:`InteractionDelta`), and how the edge's value of it combines
with the delta's; the edge property has the field's name except where :data:`STORED_AS` says."""

STORED_AS: Final[Mapping[str, str]] = MappingProxyType({"weight": "raw_weight"})
"""The edge property a delta field is kept in, where the names differ: the deltas' weights add up into
``raw_weight``, and the edge's ``weight``, the one derived property, is that sum saturated at the
edge's ``weight_cap`` after every write (:func:`saturate`)."""


def stored_as(field: str) -> str:
    """The edge property that keeps the delta field ``field``."""
    return STORED_AS.get(field, field)


def saturate(raw: float, cap: float | None) -> float:
    """An edge's ``weight`` from its ``raw_weight`` and ``weight_cap``: clamped to ``[-cap, cap]``, or the
    raw sum when no cap was ever named. Symmetric because a dislike bot repeating one item is as much
    a flood as a click bot; the sign, and so the endpoints' degrees, are the raw sum's."""
    if cap is None:
        return raw
    return cap if raw > cap else -cap if raw < -cap else raw


PER_TYPE_RULE: Final = Combine.ADD
"""How each per-type property combines: ``n_<type>`` (``type_counts``) and ``s_<type>``
(``value_sums``). A delta holds only the types it saw: a type absent from the delta leaves the edge's
value alone, and a type absent from the edge takes the delta's value."""

APPLY: Final[Mapping[Combine, Callable[[Any, Any], Any]]] = MappingProxyType(
    {
        Combine.ADD: operator.add,
        Combine.EARLIEST: min,
        Combine.LATEST: max,
        Combine.LAST_WRITE: lambda old, new: old if new is None else new,
    }
)
"""Each combination in Python, ``(edge's value, delta's value) -> edge's new value``."""


class EdgeDelta(Protocol):
    """What :func:`fold` reads of a delta: an :class:`InteractionDelta`, or a lighter record with the
    same fields (the ingest path builds one per event, and a frozen dataclass costs about three times
    a plain slotted one to build)."""

    @property
    def user_id(self) -> str: ...
    @property
    def item_id(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def count(self) -> int: ...
    @property
    def first_ts(self) -> int: ...
    @property
    def last_ts(self) -> int: ...
    @property
    def type_counts(self) -> Mapping[str, int]: ...
    @property
    def value_sums(self) -> Mapping[str, float]: ...
    @property
    def client(self) -> str: ...
    @property
    def weight_cap(self) -> float | None: ...


def fold(deltas: Iterable[EdgeDelta]) -> list[InteractionDelta]:
    """One delta per (user, item), in order of first appearance: what writing ``deltas`` in order
    onto edges that did not exist would leave on each edge. Its ``weight`` is the raw sum (the store
    keeps it as ``raw_weight`` and saturates it, :func:`saturate`) and its ``weight_cap`` the last one
    a delta named.

    The loop spells :data:`EDGE_RULE` and :data:`PER_TYPE_RULE` out instead of looking each property
    up in them: the ingest path folds every event, and a loop driven by the table was several times
    slower on batches that repeat pairs. ``tests/graph/test_edge_combination.py`` checks the loop
    against the table property by property, and against the store's Cypher. The first delta of a
    pair seen once comes back as it was (an :class:`InteractionDelta`) or as one (a lighter record),
    its maps shared; a pair's maps are copied before anything is added to them.
    """
    firsts: dict[tuple[str, str], EdgeDelta] = {}  # every pair's first delta, in order of appearance
    # pairs seen again: [weight, count, first_ts, last_ts, client, type_counts, value_sums, weight_cap] so far
    running: dict[tuple[str, str], list[Any]] = {}
    for d in deltas:
        key = (d.user_id, d.item_id)
        e = running.get(key)
        if e is None:
            f = firsts.get(key)
            if f is None:
                firsts[key] = d
                continue
            e = running[key] = [
                f.weight,
                f.count,
                f.first_ts,
                f.last_ts,
                f.client,
                dict(f.type_counts),
                dict(f.value_sums),
                f.weight_cap,
            ]
        e[0] += d.weight  # weight: ADD
        e[1] += d.count  # count: ADD
        if d.first_ts < e[2]:  # first_ts: EARLIEST
            e[2] = d.first_ts
        if d.last_ts > e[3]:  # last_ts: LATEST
            e[3] = d.last_ts
        e[4] = d.client  # client: LAST_WRITE (never None)
        if d.weight_cap is not None:  # weight_cap: LAST_WRITE
            e[7] = d.weight_cap
        counts, sums = e[5], e[6]  # n_<type>, s_<type>: ADD (a type the edge lacks takes the delta's)
        for t, n in d.type_counts.items():
            counts[t] = counts[t] + n if t in counts else n
        for t, v in d.value_sums.items():
            sums[t] = sums[t] + v if t in sums else v
    return [
        InteractionDelta(key[0], key[1], e[0], e[1], e[2], e[3], e[5], e[6], e[4], e[7])
        if (e := running.get(key)) is not None
        else _as_delta(f)
        for key, f in firsts.items()
    ]


def _as_delta(d: EdgeDelta) -> InteractionDelta:
    """A delta nothing was combined with, as the record the store port takes."""
    if isinstance(d, InteractionDelta):
        return d
    return InteractionDelta(
        d.user_id,
        d.item_id,
        d.weight,
        d.count,
        d.first_ts,
        d.last_ts,
        d.type_counts,
        d.value_sums,
        d.client,
        d.weight_cap,
    )
