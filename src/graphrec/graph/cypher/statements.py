"""The Cypher both adapters send, each statement written once and rendered in each store's dialect.

Why one text: the adapters must mean the same thing by every operation (the contract suite checks it
on both stores); two copies of a statement drift. Where the stores spell a construct differently the
text asks its :class:`~graphrec.graph.cypher.dialect.Dialect`. Statements carry parameters only: they
are rendered at import from fixed strings and the fixed tuples of ``graphrec.event_types``, never
from input. Statements only one store sends live in ``neo4j.py`` and ``falkordb.py`` beside this.

Conventions: ties break on ids so results are deterministic on both stores; every statement is a
complete statement (the fragments are functions here), which is what the Neo4j lint enumerates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, LiteralString

from graphrec.event_types import COUNT_PROPS, SUM_PROPS, EventType
from graphrec.graph.cypher.dialect import Dialect
from graphrec.graph.edge_combination import EDGE_RULE, PER_TYPE_RULE, Combine, stored_as


@dataclass(frozen=True, slots=True)
class Aggregates:
    """Where the aggregates added onto an edge come from: a delta row, or another edge. One field per
    field of :data:`~graphrec.graph.edge_combination.EDGE_RULE`, named after it."""

    weight: str
    count: str
    first_ts: str
    last_ts: str
    client: str
    weight_cap: str
    per_type: str  # the variable holding the n_<type> / s_<type> keys


DELTA_ROW = Aggregates("r.w", "r.c", "r.f", "r.l", "r.k", "r.x", "r")


def raw_weight(var: str) -> str:
    """An edge's raw weight sum; an edge written before sums were kept has only its ``weight`` (then
    never saturated, so the same number)."""
    return f"coalesce({var}.{stored_as('weight')}, {var}.weight)"


def edge_aggregates(var: str) -> Aggregates:
    """An existing edge's aggregates, for moving them onto another edge: its raw sum, not its
    saturated weight, so a merged edge saturates the sum of both."""
    return Aggregates(
        raw_weight(var), f"{var}.count", f"{var}.first_ts", f"{var}.last_ts", f"{var}.client", f"{var}.weight_cap", var
    )


def saturated(raw: str, cap: str) -> str:
    """The Cypher of :func:`graphrec.graph.edge_combination.saturate`: ``raw`` clamped to
    ``[-cap, cap]``, or ``raw`` where ``cap`` is null."""
    return (
        f"(CASE WHEN ({cap}) IS NULL THEN {raw} WHEN {raw} > ({cap}) THEN ({cap}) "
        f"WHEN {raw} < -({cap}) THEN -({cap}) ELSE {raw} END)"
    )


# The edge rule's combinations in Cypher (their Python is graphrec.graph.edge_combination.APPLY): the SET
# expression from the edge's value `{old}` and the delta's `{new}`, and the value a new edge starts from
# (ON CREATE), which the SET then combines with the delta's into the delta's own value. LAST_WRITE
# keeps the edge's value for a null one: an edge moved by a merge may predate the property.
COMBINE_CYPHER: Final[Mapping[Combine, tuple[str, str]]] = {
    Combine.ADD: ("{old} + {new}", "0"),
    Combine.EARLIEST: ("CASE WHEN {new} < {old} THEN {new} ELSE {old} END", "{new}"),
    Combine.LATEST: ("CASE WHEN {new} > {old} THEN {new} ELSE {old} END", "{new}"),
    Combine.LAST_WRITE: ("coalesce({new}, {old})", "{new}"),
}


def combined(how: Combine, old: str, new: str) -> str:
    """The Cypher value of ``old`` combined with ``new`` by ``how``."""
    return COMBINE_CYPHER[how][0].format(old=old, new=new)


def start_value(how: Combine, new: str) -> str:
    """The Cypher value a property combined by ``how`` starts from, before ``new`` is combined in."""
    return COMBINE_CYPHER[how][1].format(new=new)


NEW_EDGE_WEIGHT: Final = "0"
"""A new edge's ``weight`` before its first delta is added: no positive edge yet for the degrees."""


def merge_edge(user: str, item: str, edge: str, add: Aggregates, *, item_degree_extra: str = "") -> str:
    """THE store's side of the edge rule: adds ``add`` onto the ``INTERACTED`` edge ``user -> item``
    (created if missing), each property combined as :mod:`graphrec.graph.edge_combination` says: a new
    edge starts from the rule's start values (:func:`start_value`), then :func:`edge_additions` adds
    the delta onto it. The SET list is left open: a caller may append. Neo4j's delta write renders
    the same rule (:func:`edge_after`, :func:`degree_change`) without the MERGE
    (``graphrec.graph.cypher.neo4j``: it finds a batch's existing edges once per user, not per row)."""
    start = ", ".join(f"{edge}.{stored_as(p)} = {start_value(how, getattr(add, p))}" for p, how in EDGE_RULE.items())
    return f"""MERGE ({user})-[{edge}:INTERACTED]->({item})
ON CREATE SET {start}, {edge}.weight = {NEW_EDGE_WEIGHT}
SET {edge_additions(user, item, edge, add, item_degree_extra=item_degree_extra)}"""


def edge_after(edge: str, add: Aggregates, *, new: bool = False) -> dict[str, str]:
    """Every edge property's Cypher value once ``add`` is added onto ``edge``, read from the edge's
    values before this write; ``new``: onto an edge that has only the start values (:func:`start_value`:
    what ``merge_edge``'s ``ON CREATE`` gives it), so the values read nothing of the edge.

    The fields every delta carries (``EDGE_RULE``: the weights add up into ``raw_weight``, count adds
    up, ``first_ts`` and ``last_ts`` widen, ``client`` and ``weight_cap`` are the last writer's); the
    edge's ``weight``, the raw sum saturated at the cap (:func:`saturated`); a per-type key
    (``PER_TYPE_RULE``) absent from ``add`` leaves the property as it was (null on a new edge: not
    set), and a property the edge lacks combines from the start value. In the order written:
    ``raw_weight``, ``weight``, the other fields, the per-type keys."""

    def before(p: str, how: Combine) -> str:
        return start_value(how, getattr(add, p)) if new else f"{edge}.{p}"

    raw_before = start_value(EDGE_RULE["weight"], add.weight) if new else raw_weight(edge)
    raw_after = combined(EDGE_RULE["weight"], raw_before, add.weight)
    cap_after = combined(EDGE_RULE["weight_cap"], before("weight_cap", EDGE_RULE["weight_cap"]), add.weight_cap)
    values = {stored_as("weight"): raw_after, "weight": saturated(raw_after, cap_after)}
    values |= {p: combined(how, before(p, how), getattr(add, p)) for p, how in EDGE_RULE.items() if p != "weight"}
    for p in (*COUNT_PROPS, *SUM_PROPS):
        old, delta = ("null" if new else f"{edge}.{p}"), f"{add.per_type}.{p}"
        value = combined(PER_TYPE_RULE, f"coalesce({old}, {start_value(PER_TYPE_RULE, delta)})", delta)
        values[p] = f"CASE WHEN {delta} IS NULL THEN {old} ELSE {value} END"
    return values


def degree_change(edge: str, add: Aggregates, *, new: bool = False) -> str:
    """How adding ``add`` onto ``edge`` (``new``: onto a new edge) moves its endpoints' ``degree``.

    A degree (not an edge property) counts a node's edges with a *positive* weight (the traversal's
    normalisation; a dislike is not popularity), so it moves when the edge's weight changes sign; the
    new sign is read off the raw sum, which has the saturated weight's sign since a cap is positive
    (``rows.cap_param``), and is cheaper than the clamp (measured on the embedded store: the clamp in
    both degree terms cost about a fifth more store CPU per edge write than the rule without a cap;
    the sign of the sum, a few per cent)."""
    raw_after = edge_after(edge, add, new=new)[stored_as("weight")]
    weight_before = NEW_EDGE_WEIGHT if new else f"{edge}.weight"
    return f"(CASE WHEN {raw_after} > 0 THEN 1 ELSE 0 END) - (CASE WHEN {weight_before} > 0 THEN 1 ELSE 0 END)"


def degree_updates(user: str, item: str, change: str, *, item_degree_extra: str = "") -> str:
    """The SET items moving both endpoints' degrees by ``change`` (:func:`degree_change`);
    ``item_degree_extra`` is appended to the item's term (a merge also removes the source's edge)."""
    return f"""{user}.degree = coalesce({user}.degree, 0) + {change},
    {item}.degree = coalesce({item}.degree, 0){item_degree_extra} + {change}"""


def property_map(values: Mapping[str, str]) -> str:
    """A Cypher map literal of ``values`` (property -> Cypher value)."""
    return "{" + ", ".join(f"{p}: {v}" for p, v in values.items()) + "}"


def edge_additions(user: str, item: str, edge: str, add: Aggregates, *, item_degree_extra: str = "") -> str:
    """The SET list adding ``add`` onto the existing edge ``edge`` from ``user`` to ``item``: the
    degrees (:func:`degree_change`), then the edge's values (:func:`edge_after`).

    ``raw_weight`` and ``weight`` are written by one map (``e += {raw_weight: .., weight: ..}``) whose
    values read only the edge's values before this write: FalkorDB evaluates a SET list all at once,
    Neo4j item by item, and a map is evaluated whole before it is set in both. The other properties
    are single SET items (FalkorDB 4.16 removes the wrong property when one ``+=`` nulls several: see
    ``_replace_items``); each reads only its own property. The degree terms come first and read the
    weight before it changes, whether a store evaluates a SET list item by item or all at once.
    ``SET x.p = x.p + ...`` reads under the write lock, so concurrent writes to one edge cannot lose
    updates."""
    after = edge_after(edge, add)
    raw, weight = stored_as("weight"), "weight"
    rest = ",\n    ".join(f"{edge}.{p} = {v}" for p, v in after.items() if p not in (raw, weight))
    degrees = degree_updates(user, item, degree_change(edge, add), item_degree_extra=item_degree_extra)
    return f"""{degrees},
    {edge} += {{{raw}: {after[raw]}, {weight}: {after[weight]}}},
    {rest}"""


# One pre-aggregated delta row ``r`` applied: its user, its item, its edge. An item an event creates
# is `provisional` until a catalogue (the catalogue API, an import's item file) describes it. The
# edge's `client` is the sender of its latest events ("" for a trusted one, never null): trending
# counts at most a few actors per sender (graphrec.recommend.popular).
APPLY_DELTA = f"""MERGE (u:User {{id: r.u}})
MERGE (i:Item {{id: r.i}})
ON CREATE SET i.provisional = true
{merge_edge("u", "i", "e", DELTA_ROW)}"""

# When a catalogue first described an item (`listed_ms`, epoch ms: the new-arrivals list), from the
# caller's `$now`, right after the item's MERGE and before `provisional` is cleared: a catalogue upsert
# or import that creates the item, or describes one an event created (provisional), stamps it; a later
# one never moves it. An item described before first-listed times were kept (neither provisional nor
# stamped) stays without one: its age is unknown, so it is no new arrival. Single-property SETs, each
# closed by WITH (`_replace_items` says why).
STAMP_LISTED = """ON CREATE SET i.listed_ms = $now
WITH i, r
SET i.listed_ms = CASE WHEN i.provisional = true THEN coalesce(i.listed_ms, $now) ELSE i.listed_ms END
WITH i, r"""

# What the catalogue API stores on an item, besides its id and its categories.
# ``attributes``: the catalogue's attribute map as one JSON text (graph properties hold no maps).
ITEM_FIELDS: tuple[str, ...] = ("title", "url", "image_url", "price", "currency", "available", "attributes")


def _replace_items() -> str:
    # One SET per field, each closed by WITH: FalkorDB 4.16 removes the WRONG property when one SET
    # clause (a SET list, `+=`, or REMOVE of several) nulls more than one property of a node (seen
    # with properties stored in the order id, price, available, title: nulling title and price removed
    # available and kept title). Chained single-property SETs were right in 1,000 fuzzed upserts; the
    # contract suite keeps a case that fails with the list form. Old category links go, the given
    # ones are merged: the category set is replaced. Interactions and embeddings are not touched.
    fields = "\n".join(f"SET i.{f} = r.{f}\nWITH i, r" for f in ITEM_FIELDS)
    return f"""UNWIND $rows AS r
MERGE (i:Item {{id: r.id}})
{STAMP_LISTED}
{fields}
SET i.provisional = null
WITH i, r
OPTIONAL MATCH (i)-[old:IN_CATEGORY]->(:Category)
DELETE old
WITH DISTINCT i, r
FOREACH (name IN r.categories |
  MERGE (c:Category {{name: name}})
  MERGE (i)-[:IN_CATEGORY]->(c)
)
RETURN count(i)"""


def _item_details(match: str) -> str:
    """The catalogue's columns of the items ``match`` leaves in ``i`` (ordered by id, at most
    ``$limit`` of them): id, the fields, provisional, and the category names (unordered)."""
    return f"""{match}
WITH i ORDER BY i.id LIMIT $limit
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
WITH i, collect(c.name) AS categories
RETURN i.id, i.title, i.url, i.image_url, i.price, i.currency, coalesce(i.available, true),
       coalesce(i.provisional, false), categories, i.attributes
ORDER BY i.id"""


# A batch of delta rows; rows carry only the per-type keys they add to.
UPSERT_DELTAS = f"""UNWIND $rows AS r
{APPLY_DELTA}
RETURN count(e)"""


def ledger_claim(d: Dialect) -> str:
    """Claim batch ``$seq`` of ledger ``$key``: leaves one row (the ledger ``l``) only if the ledger
    expected that batch, and advances it. What follows in the same transaction applies the batch."""
    return f"""MERGE (l:Ledger {{key: $key}})
ON CREATE SET l.next_seq = 0, l.complete = false
{d.lock("l")}WITH l
WHERE l.next_seq = $seq
SET l.next_seq = $seq + 1"""


def _likers(d: Dialect) -> str:
    # Rule 2 of graphrec.scoring.traversal: the `fanout` users who liked `s` most (ties: user id).
    # Ordering reads the item's whole neighbourhood; the in-memory index is the fast path, this one
    # is exact and the analysts' reference.
    return d.subquery(
        "s",
        "MATCH (s)<-[e1:INTERACTED]-(v:User)\nWHERE e1.weight > 0\n"
        "WITH v, e1 ORDER BY e1.weight DESC, v.id LIMIT $fanout\nRETURN v, e1",
    )


def _strongest_items(d: Dialect) -> str:
    # Rule 3: a co-user's `fanout` strongest edges by |weight| (ties: item id); dislikes count against.
    return d.subquery(
        "v",
        "MATCH (v)-[e2:INTERACTED]->(c:Item)\n"
        "WITH c, e2 ORDER BY abs(e2.weight) DESC, c.id LIMIT $fanout\nRETURN c, e2",
    )


def _user_candidates(d: Dialect) -> str:
    # The capped traversal of graphrec.scoring.traversal, rule by rule (the agreement test holds it
    # to tests/scoring/traversal_spec.py). 1: the user's `seeds` most recent liked items, decayed from
    # `$now` (the caller passes the user's newest edge). 2, 3: likers, their strongest edges. 4: per
    # seed, S(s, c) over positive-edge degrees, the `co_items` best kept. 5: the user's own items
    # dropped, positive totals only. 6: evidence = the (at most 3) seeds contributing most.
    # Candidates travel as ids from rule 4 on: FalkorDB cannot use a node taken out of a list in a
    # pattern, so "seen" is the user's item ids, collected first.
    return f"""MATCH (u:User {{id: $id}})-[x:INTERACTED]->(i:Item)
WITH u, collect(i.id) AS seen
MATCH (u)-[e0:INTERACTED]->(s:Item)
WHERE e0.weight > 0
WITH seen, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH seen, s, e0.weight * 0.5 ^ (toFloat($now - e0.last_ts) / $half_life_ms) AS w0
{_likers(d)}
{_strongest_items(d)}
WITH seen, s, w0, c, e2
WHERE c <> s AND c.degree > 0
WITH seen, s, w0, c, sum(e2.weight) AS co
WITH seen, s, w0, c.id AS c, co / sqrt(toFloat(s.degree * c.degree)) AS sc
ORDER BY sc DESC, c
WITH seen, s, w0, collect([c, sc])[..$co_items] AS kept
UNWIND kept AS t
WITH s, t[0] AS c, w0 * t[1] AS via, seen
WHERE NOT c IN seen
WITH c, s, via ORDER BY via DESC, s.id
WITH c, sum(via) AS score, collect(CASE WHEN via > 0 THEN s.id END)[..3] AS evidence
WHERE score > 0
RETURN c, score, evidence
ORDER BY score DESC, c
LIMIT $limit"""


def _item_candidates(d: Dialect) -> str:
    return f"""MATCH (s:Item {{id: $id}})
{_likers(d)}
{_strongest_items(d)}
WITH s, c, e1, e2
WHERE c <> s AND c.degree > 0
WITH c, sum(e1.weight * e2.weight / sqrt(toFloat(s.degree * c.degree))) AS score
WHERE score > 0
RETURN c.id, score
ORDER BY score DESC, c.id
LIMIT $limit"""


def _write_embeddings(d: Dialect, label: str) -> str:
    return f"""UNWIND $rows AS r
MATCH (n:{label} {{id: r.id}})
{d.store_vector}
SET n.model_version = $version
RETURN count(n)"""


def _merge_users(d: Dialect) -> str:
    # The source's seen-event records are re-owned (whether or not its node exists: events whose
    # deltas were cleaned away left records only), then its edges are added onto the target's and
    # it is deleted, all in one statement. The subquery returns one row (an aggregate) whether or
    # not the source has edges. Run again it finds no records and no source and changes nothing.
    move = d.subquery(
        "src, dst",
        f"""MATCH (src)-[e:INTERACTED]->(i:Item)
{merge_edge("dst", "i", "f", edge_aggregates("e"), item_degree_extra=" - (CASE WHEN e.weight > 0 THEN 1 ELSE 0 END)")}
RETURN count(f) AS moved""",
    )
    return f"""MATCH (x:{d.event_label} {{user: $src}})
SET x.user = $dst
WITH count(*) AS records
MATCH (src:User {{id: $src}})
MERGE (dst:User {{id: $dst}})
WITH src, dst
{move}
DETACH DELETE src
RETURN count(*)"""


def _erase_user(d: Dialect) -> str:
    # Seen-event records, then the node and its edges, with the item degrees the user's liked edges
    # contributed decremented: one statement. Run again it finds nothing and changes nothing.
    return f"""MATCH (x:{d.event_label} {{user: $id}})
DELETE x
WITH count(*) AS records
MATCH (u:User {{id: $id}})
OPTIONAL MATCH (u)-[x:INTERACTED]->(i:Item)
SET i.degree = i.degree - (CASE WHEN x.weight > 0 THEN 1 ELSE 0 END)
WITH DISTINCT u
DETACH DELETE u
RETURN count(*)"""


# What "frequently bought together" counts (graphrec.recommend.bought_together): a chunk of users' edges
# on which they bought or carted the item (per-type counts n_purchase, n_add_to_cart) and still like it
# (positive weight), under trending's rule against manipulation: browsers' edges to provisional items
# left out, each edge's sender returned for the per-client cap. Its own statement, beside the edge rule.
_PURCHASED = f"coalesce(e.n_{EventType.PURCHASE.value}, 0) > 0"
_CARTED = f"coalesce(e.n_{EventType.ADD_TO_CART.value}, 0) > 0"
BASKET_EDGES_OF_USERS = f"""UNWIND $ids AS uid
MATCH (u:User {{id: uid}})-[e:INTERACTED]->(i:Item)
WHERE e.last_ts >= $since AND e.weight > 0 AND ({_PURCHASED} OR {_CARTED})
WITH uid, i, e
WHERE i.provisional IS NULL OR coalesce(e.client, '') = ''
RETURN uid, i.id, e.weight, e.last_ts, coalesce(e.client, '')"""


# What SET_INTERACTION_WEIGHTS writes: the row's raw sum `r.w` saturated at its cap `r.x` (or the
# edge's), and how the endpoints' positive-edge degrees move with it (the raw sum's sign, as in merge_edge).
_reweighed_cap = combined(EDGE_RULE["weight_cap"], "e.weight_cap", "r.x")
_reweighed = saturated("r.w", _reweighed_cap)
_reweighed_sign_change = "(CASE WHEN r.w > 0 THEN 1 ELSE 0 END) - (CASE WHEN e.weight > 0 THEN 1 ELSE 0 END)"


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements both adapters send (the base adapter's), in one dialect."""

    UPSERT_USERS: LiteralString
    UPSERT_ITEMS: LiteralString
    REPLACE_ITEMS: LiteralString
    ITEMS_BY_ID: LiteralString
    LIST_ITEMS: LiteralString
    LIST_ITEMS_IN_CATEGORY: LiteralString
    CATEGORY_SIZES: LiteralString
    ITEMS_NOT_IN_CATALOGUE: LiteralString
    UPSERT_INTERACTIONS: LiteralString
    LEDGER_POSITION: LiteralString
    LEDGER_COMPLETE: LiteralString
    USER_INTERACTIONS: LiteralString
    USER_HISTORY: LiteralString
    USER_ITEM_IDS: LiteralString
    USER_EXISTS: LiteralString
    ITEM_EXISTS: LiteralString
    USER_CANDIDATES: LiteralString
    ITEM_CANDIDATES: LiteralString
    PAGE_USERS: LiteralString
    PAGE_ITEMS: LiteralString
    PAGE_USER_IDS: LiteralString
    EDGES_OF_USERS: LiteralString
    TRENDING_EDGES_OF_USERS: LiteralString
    BASKET_EDGES_OF_USERS: LiteralString
    EDGE_AGGREGATES_OF_USERS: LiteralString
    SET_INTERACTION_WEIGHTS: LiteralString
    RECOUNT_ITEM_DEGREES: LiteralString
    RECOUNT_USER_DEGREES: LiteralString
    WRITE_ITEM_EMBEDDINGS: LiteralString
    WRITE_USER_EMBEDDINGS: LiteralString
    SET_META: LiteralString
    GET_META: LiteralString
    GET_USER: LiteralString
    MERGE_USERS: LiteralString
    ERASE_USER: LiteralString
    EXPIRE_EVENT_IDS: LiteralString
    COUNTS: LiteralString
    UPSERT_SEGMENTS: LiteralString
    MERGE_SEGMENT_MEMBERS: LiteralString
    DROP_STALE_MEMBERSHIPS: LiteralString
    DROP_STALE_SEGMENTS: LiteralString
    RECOUNT_SEGMENT_SIZES: LiteralString
    SEGMENTS: LiteralString
    USER_SEGMENT: LiteralString
    PAGE_SEGMENT_MEMBERS: LiteralString


def shared(d: Dialect) -> dict[str, Any]:
    """Every :class:`Statements` field rendered in dialect ``d`` (a store's statement set adds its own)."""
    return {
        "UPSERT_USERS": "UNWIND $rows AS r\nMERGE (u:User {id: r.id})\nSET u += r.props\nRETURN count(u)",
        # An import's catalogue: properties merged, categories only added; described, so not provisional.
        "UPSERT_ITEMS": f"""UNWIND $rows AS r
MERGE (i:Item {{id: r.id}})
{STAMP_LISTED}
SET i += r.props
SET i.provisional = null
WITH i, r
UNWIND r.categories AS name
MERGE (c:Category {{name: name}})
MERGE (i)-[:IN_CATEGORY]->(c)
RETURN count(c)""",
        "REPLACE_ITEMS": _replace_items(),
        "ITEMS_BY_ID": _item_details("UNWIND $ids AS id\nMATCH (i:Item {id: id})"),
        # Catalogue listings follow an id cursor (never SKIP), like every other page. In a category,
        # the id filter comes after a WITH: FalkorDB otherwise plans a range scan of every item above
        # `after` on the id index, then checks each one's category (20k items, 10 categories:
        # 40-110 ms a page, against 2-7 ms starting from the category).
        "LIST_ITEMS": _item_details("MATCH (i:Item) WHERE i.id > $after"),
        "LIST_ITEMS_IN_CATEGORY": _item_details(
            "MATCH (:Category {name: $category})<-[:IN_CATEGORY]-(i:Item)\nWITH i\nWHERE i.id > $after"
        ),
        # A category exists while an item is in it (an emptied one is not listed).
        "CATEGORY_SIZES": """MATCH (i:Item)-[:IN_CATEGORY]->(c:Category)
RETURN c.name AS name, count(i) AS items
ORDER BY name""",
        # Ids the catalogue does not know: no item, or only one an event created (provisional).
        "ITEMS_NOT_IN_CATALOGUE": """UNWIND $ids AS id
OPTIONAL MATCH (i:Item {id: id})
WITH id, i
WHERE i IS NULL OR i.provisional = true
RETURN id""",
        "UPSERT_INTERACTIONS": UPSERT_DELTAS,
        "LEDGER_POSITION": "MATCH (l:Ledger {key: $key}) RETURN l.next_seq, l.complete",
        "LEDGER_COMPLETE": """MERGE (l:Ledger {key: $key})
ON CREATE SET l.next_seq = 0
SET l.complete = true, l.rows = $rows, l.completed_at = $now""",
        "USER_INTERACTIONS": """MATCH (:User {id: $id})-[e:INTERACTED]->(i:Item)
RETURN i.id, properties(e)
ORDER BY e.last_ts DESC, i.id
LIMIT $limit""",
        # The serving read: three columns of the user's most recent edges.
        "USER_HISTORY": """MATCH (:User {id: $id})-[e:INTERACTED]->(i:Item)
RETURN i.id, e.weight, e.last_ts
ORDER BY e.last_ts DESC, i.id
LIMIT $limit""",
        # Every item the user ever interacted with: the seen-filter of a user whose history read was
        # cut at its limit (the recent window decides the seeds, the whole history what counts as seen).
        "USER_ITEM_IDS": "MATCH (:User {id: $id})-[:INTERACTED]->(i:Item) RETURN i.id",
        "USER_EXISTS": "MATCH (u:User {id: $id}) RETURN count(u)",
        "ITEM_EXISTS": "MATCH (i:Item {id: $id}) RETURN count(i)",
        "USER_CANDIDATES": _user_candidates(d),
        "ITEM_CANDIDATES": _item_candidates(d),
        # Pages follow an id cursor rather than SKIP, which is linear in its offset.
        "PAGE_USERS": """MATCH (u:User) WHERE u.id > $after
RETURN u.id, properties(u)
ORDER BY u.id
LIMIT $limit""",
        # One row per (item, category), categories null for none: plain replies carry no lists.
        "PAGE_ITEMS": """MATCH (i:Item) WHERE i.id > $after
WITH i ORDER BY i.id LIMIT $limit
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
RETURN i.id, i.title, c.name, i.url, i.image_url, i.price, i.currency, coalesce(i.available, true),
       i.attributes, i.listed_ms""",
        "PAGE_USER_IDS": "MATCH (u:User) WHERE u.id > $after\nRETURN u.id ORDER BY u.id LIMIT $limit",
        "EDGES_OF_USERS": """UNWIND $ids AS uid
MATCH (u:User {id: uid})-[e:INTERACTED]->(i:Item)
WHERE e.last_ts >= $since
RETURN uid, i.id, e.weight, e.last_ts""",
        # What may count towards trending: edges of items a catalogue described (an event alone makes an
        # item provisional, and anyone can send events), and edges a trusted sender wrote (an import, the
        # shop's backend with a secret key: an events-only import still has its trending lists), with
        # each edge's sender ("" before senders were recorded, or a trusted one). The item filter comes
        # after a WITH: FalkorDB otherwise starts from a scan of every item (5.6 s instead of 13 ms for
        # 200 users' edges).
        "TRENDING_EDGES_OF_USERS": """UNWIND $ids AS uid
MATCH (u:User {id: uid})-[e:INTERACTED]->(i:Item)
WHERE e.last_ts >= $since
WITH uid, i, e
WHERE i.provisional IS NULL OR coalesce(e.client, '') = ''
RETURN uid, i.id, e.weight, e.last_ts, coalesce(e.client, '')""",
        "BASKET_EDGES_OF_USERS": BASKET_EDGES_OF_USERS,
        "EDGE_AGGREGATES_OF_USERS": """UNWIND $ids AS uid
MATCH (u:User {id: uid})-[e:INTERACTED]->(i:Item)
RETURN uid, i.id, properties(e)
ORDER BY uid, i.id""",
        # Optimistic: `count` only grows, so an edge whose count moved since it was read is left
        # alone. Locked before `count` is compared where writes run concurrently, so an upsert
        # committing between the comparison and the SET cannot have its weight overwritten. The
        # row's `w` is the edge's new raw sum and `x` the policy's cap (null: the edge keeps its own);
        # the weight is the sum saturated, as merge_edge leaves it.
        "SET_INTERACTION_WEIGHTS": f"""UNWIND $rows AS r
MATCH (:User {{id: r.u}})-[e:INTERACTED]->(:Item {{id: r.i}})
{d.lock("e")}WITH r, e, startNode(e) AS usr, endNode(e) AS itm
WHERE e.count = r.c
SET usr.degree = usr.degree + {_reweighed_sign_change},
    itm.degree = itm.degree + {_reweighed_sign_change},
    e += {{{stored_as("weight")}: r.w, weight: {_reweighed}}},
    e.weight_cap = {_reweighed_cap}
RETURN r.u, r.i""",
        # Degrees as the current rule counts them (positive edges), for stores written before it.
        "RECOUNT_ITEM_DEGREES": """MATCH (i:Item)
OPTIONAL MATCH (i)<-[x:INTERACTED]-(:User)
WITH i, sum(CASE WHEN x.weight > 0 THEN 1 ELSE 0 END) AS d
SET i.degree = d
RETURN count(i)""",
        "RECOUNT_USER_DEGREES": """MATCH (u:User)
OPTIONAL MATCH (u)-[x:INTERACTED]->(:Item)
WITH u, sum(CASE WHEN x.weight > 0 THEN 1 ELSE 0 END) AS d
SET u.degree = d
RETURN count(u)""",
        "WRITE_ITEM_EMBEDDINGS": _write_embeddings(d, "Item"),
        "WRITE_USER_EMBEDDINGS": _write_embeddings(d, "User"),
        "SET_META": "MERGE (m:Meta {key: $key}) SET m.value = $value",
        "GET_META": "MATCH (m:Meta {key: $key}) RETURN m.value",
        "GET_USER": "MATCH (u:User {id: $id}) RETURN properties(u)",
        "MERGE_USERS": _merge_users(d),
        "ERASE_USER": _erase_user(d),
        # Retention, a chunk at a time: (records deleted, event keys they held); the first drives
        # the chunking.
        "EXPIRE_EVENT_IDS": f"""MATCH (x:{d.event_label}) WHERE x.at < $before
WITH x LIMIT $limit
WITH x, {d.event_keys} AS n
DELETE x
RETURN count(*), sum(n)""",
        "COUNTS": d.counts(
            {
                "users": "(:User)",
                "items": "(:Item)",
                "categories": "(:Category)",
                "interactions": "()-[:INTERACTED]->()",
            }
        ),
        # A segmentation replaces the previous one in idempotent steps tagged with its run (`computed_ms`):
        # segments upserted by name, memberships merged in batches, then whatever another run left is
        # deleted (a chunk at a time) and the sizes recounted (see SegmentStore.replace_segments).
        "UPSERT_SEGMENTS": """UNWIND $rows AS r
MERGE (s:Segment {name: r.name})
SET s.size = r.size, s.centroid = r.centroid, s.features = r.features, s.rule = r.rule, s.computed_ms = $run
RETURN count(s)""",
        "MERGE_SEGMENT_MEMBERS": """UNWIND $rows AS r
MATCH (u:User {id: r.id})
MATCH (s:Segment {name: r.name})
MERGE (u)-[e:IN_SEGMENT]->(s)
SET e.computed_ms = $run
RETURN count(e)""",
        "DROP_STALE_MEMBERSHIPS": """MATCH (:User)-[e:IN_SEGMENT]->(:Segment)
WHERE e.computed_ms <> $run
WITH e LIMIT $limit
DELETE e
RETURN count(*)""",
        "DROP_STALE_SEGMENTS": """MATCH (s:Segment)
WHERE s.computed_ms <> $run
DETACH DELETE s
RETURN count(*)""",
        "RECOUNT_SEGMENT_SIZES": """MATCH (s:Segment)
OPTIONAL MATCH (s)<-[e:IN_SEGMENT]-(:User)
WITH s, count(e) AS n
SET s.size = n
RETURN count(s)""",
        "SEGMENTS": """MATCH (s:Segment)
RETURN s.name, s.size, s.centroid, s.features, s.rule, s.computed_ms
ORDER BY s.size DESC, s.name""",
        # The newest membership: mid-replacement a user may have their old and their new one.
        "USER_SEGMENT": """MATCH (:User {id: $id})-[e:IN_SEGMENT]->(s:Segment)
RETURN s.name
ORDER BY e.computed_ms DESC, s.name
LIMIT 1""",
        "PAGE_SEGMENT_MEMBERS": """MATCH (u:User)-[e:IN_SEGMENT]->(s:Segment)
WHERE u.id > $after
RETURN u.id, s.name, e.computed_ms
ORDER BY u.id, e.computed_ms DESC
LIMIT $limit""",
    }
