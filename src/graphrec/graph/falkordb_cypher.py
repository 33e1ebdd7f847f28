"""Cypher sent by the FalkorDB adapter, as named constants with parameters only.

FalkorDB speaks openCypher with its own DDL (``CREATE INDEX FOR``, vector indexes with
``OPTIONS {dimension, similarityFunction}``) and the older ``CALL { WITH x ... }`` subquery import.
Per-type edge properties are rendered once from the fixed tuples in ``graphrec.event_types``.
"""

from __future__ import annotations

from typing import Final

from graphrec.event_types import COUNT_PROPS, SUM_PROPS

SCHEMA: Final[tuple[str, ...]] = (
    "CREATE INDEX FOR (u:User) ON (u.id)",
    "CREATE INDEX FOR (i:Item) ON (i.id)",
    "CREATE INDEX FOR (c:Category) ON (c.name)",
    "CREATE INDEX FOR (l:Ledger) ON (l.key)",
    "CREATE INDEX FOR (m:Meta) ON (m.key)",
    # Seen-event records, one node per (user, write) holding that write's keys: FalkorDB indexes
    # array elements, so `k IN x.keys` is an index lookup and a batch creates one node per user
    # instead of one per event (measured: the exactly-once write costs ~25% less server CPU).
    "CREATE INDEX FOR (x:EventKeys) ON (x.keys)",
    "CREATE INDEX FOR (x:EventKeys) ON (x.user)",
    "CREATE INDEX FOR (x:EventKeys) ON (x.at)",
)

# Stores written before the grouped records: fold per-event (:EventId) nodes into (:EventKeys), a
# chunk at a time (run by apply_schema until nothing is left).
MIGRATE_EVENT_IDS: Final = """
MATCH (x:EventId)
WITH x LIMIT $limit
WITH x.user AS user, x.at AS at, collect(x) AS xs
CREATE (:EventKeys {user: user, at: at, keys: [y IN xs | y.key]})
FOREACH (y IN xs | DELETE y)
RETURN sum(size(xs))
"""

UPSERT_USERS: Final = "UNWIND $rows AS r MERGE (u:User {id: r.id}) SET u += r.props RETURN count(u)"

UPSERT_ITEMS: Final = """
UNWIND $rows AS r
MERGE (i:Item {id: r.id})
SET i += r.props
WITH i, r
UNWIND r.categories AS name
MERGE (c:Category {name: name})
MERGE (i)-[:IN_CATEGORY]->(c)
RETURN count(c)
"""

_AGGREGATE_PROPS = ",\n    ".join(
    f"e.{p} = CASE WHEN r.{p} IS NULL THEN e.{p} ELSE coalesce(e.{p}, 0) + r.{p} END"
    for p in (*COUNT_PROPS, *SUM_PROPS)
)

# Rows are pre-aggregated per (user, item). New edges also bump the endpoint `degree` properties,
# which the traversal uses for degree normalisation without scanning neighbourhoods.
# One edge delta row ``r`` applied: the single definition of how aggregates add up, used by the
# batch upsert and by the exactly-once event write alike.
_EDGE_MERGE = f"""MERGE (u:User {{id: r.u}})
MERGE (i:Item {{id: r.i}})
MERGE (u)-[e:INTERACTED]->(i)
ON CREATE SET e.weight = 0.0, e.count = 0, e.first_ts = r.f, e.last_ts = r.l,
    u.degree = coalesce(u.degree, 0) + 1, i.degree = coalesce(i.degree, 0) + 1
SET e.weight = e.weight + r.w,
    e.count = e.count + r.c,
    e.first_ts = CASE WHEN r.f < e.first_ts THEN r.f ELSE e.first_ts END,
    e.last_ts = CASE WHEN r.l > e.last_ts THEN r.l ELSE e.last_ts END,
    {_AGGREGATE_PROPS}"""

_EDGE_WRITE = f"""
UNWIND $rows AS r
{_EDGE_MERGE}
RETURN count(e)
"""

UPSERT_INTERACTIONS: Final = _EDGE_WRITE

# The ledger check and the batch are one query, hence one atomic FalkorDB write.
UPSERT_INTERACTIONS_GUARDED: Final = (
    """
MERGE (l:Ledger {key: $key})
ON CREATE SET l.next_seq = 0, l.complete = false
WITH l WHERE l.next_seq = $seq
SET l.next_seq = $seq + 1
WITH l
"""
    + _EDGE_WRITE
)

LEDGER_POSITION: Final = "MATCH (l:Ledger {key: $key}) RETURN l.next_seq, l.complete"
LEDGER_COMPLETE: Final = """
MERGE (l:Ledger {key: $key})
ON CREATE SET l.next_seq = 0
SET l.complete = true, l.rows = $rows, l.completed_at = $now
"""

USER_INTERACTIONS: Final = """
MATCH (:User {id: $id})-[e:INTERACTED]->(i:Item)
RETURN i.id, properties(e)
ORDER BY e.last_ts DESC
LIMIT $limit
"""

USER_HISTORY: Final = """
MATCH (:User {id: $id})-[e:INTERACTED]->(i:Item)
RETURN i.id, e.weight, e.last_ts
ORDER BY e.last_ts DESC
LIMIT $limit
"""

# Every item the user ever interacted with: the seen-filter of a user whose history read was cut
# at its limit (the recent window decides the seeds, the whole history what counts as seen).
USER_ITEM_IDS: Final = "MATCH (:User {id: $id})-[:INTERACTED]->(i:Item) RETURN i.id"
USER_EXISTS: Final = "MATCH (u:User {id: $id}) RETURN count(u)"
ITEM_EXISTS: Final = "MATCH (i:Item {id: $id}) RETURN count(i)"

# user -> seed item -> co-user -> candidate, each hop capped by a LIMITed subquery so a hub item
# or a heavy user cannot blow up latency. Decay uses the seed edge's last_ts.
USER_CANDIDATES: Final = """
MATCH (u:User {id: $id})-[e0:INTERACTED]->(s:Item)
WITH u, s, e0 ORDER BY e0.last_ts DESC LIMIT $seeds
WITH u, s, e0.weight * 0.5 ^ (toFloat($now - e0.last_ts) / $half_life_ms) AS w0
CALL {
  WITH s, u
  MATCH (s)<-[:INTERACTED]-(v:User)
  WHERE v <> u
  RETURN v LIMIT $fanout
}
CALL {
  WITH v
  MATCH (v)-[e2:INTERACTED]->(c:Item)
  RETURN c, e2 LIMIT $fanout
}
WITH u, s, c, w0 * e2.weight / sqrt(toFloat(s.degree * c.degree)) AS path_score
WHERE c <> s AND NOT (u)-[:INTERACTED]->(c)
WITH c, s, sum(path_score) AS via_score
ORDER BY via_score DESC
WITH c, sum(via_score) AS score, collect(s.id)[..3] AS evidence
RETURN c.id, score, evidence
ORDER BY score DESC
LIMIT $limit
"""

ITEM_CANDIDATES: Final = """
MATCH (s:Item {id: $id})
CALL {
  WITH s
  MATCH (s)<-[e1:INTERACTED]-(v:User)
  RETURN v, e1 LIMIT $fanout
}
CALL {
  WITH v
  MATCH (v)-[e2:INTERACTED]->(c:Item)
  RETURN c, e2 LIMIT $fanout
}
WITH s, c, e1.weight * e2.weight / sqrt(toFloat(s.degree * c.degree)) AS path_score
WHERE c <> s
WITH c, sum(path_score) AS score
RETURN c.id, score
ORDER BY score DESC
LIMIT $limit
"""

PAGE_USERS: Final = """
MATCH (u:User) WHERE u.id > $after
RETURN u.id, properties(u)
ORDER BY u.id
LIMIT $limit
"""

PAGE_ITEMS: Final = """
MATCH (i:Item) WHERE i.id > $after
WITH i ORDER BY i.id LIMIT $limit
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
RETURN i.id, i.title, collect(c.name)
ORDER BY i.id
"""

# The same page as flat (item, title, category) rows: plain replies cannot carry lists.
PAGE_ITEMS_FLAT: Final = """
MATCH (i:Item) WHERE i.id > $after
WITH i ORDER BY i.id LIMIT $limit
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
RETURN i.id, i.title, c.name
"""

# Page edges by a user-id cursor: a stable order that needs no SKIP (SKIP is linear in its offset).
PAGE_USER_IDS: Final = """
MATCH (u:User) WHERE u.id > $after
RETURN u.id ORDER BY u.id LIMIT $limit
"""

EDGES_OF_USERS: Final = """
UNWIND $ids AS uid
MATCH (u:User {id: uid})-[e:INTERACTED]->(i:Item)
WHERE e.last_ts >= $since
RETURN uid, i.id, e.weight, e.last_ts
"""

CREATE_VECTOR_INDEX_ITEM: Final = (
    "CREATE VECTOR INDEX FOR (n:Item) ON (n.embedding) OPTIONS {dimension: $dim, similarityFunction: 'cosine'}"
)
CREATE_VECTOR_INDEX_USER: Final = (
    "CREATE VECTOR INDEX FOR (n:User) ON (n.embedding) OPTIONS {dimension: $dim, similarityFunction: 'cosine'}"
)
DROP_VECTOR_INDEX_ITEM: Final = "DROP VECTOR INDEX FOR (n:Item) ON (n.embedding)"
DROP_VECTOR_INDEX_USER: Final = "DROP VECTOR INDEX FOR (n:User) ON (n.embedding)"

WRITE_ITEM_EMBEDDINGS: Final = """
UNWIND $rows AS r
MATCH (n:Item {id: r.id})
SET n.embedding = vecf32(r.v), n.model_version = $version
RETURN count(n)
"""
WRITE_USER_EMBEDDINGS: Final = """
UNWIND $rows AS r
MATCH (n:User {id: r.id})
SET n.embedding = vecf32(r.v), n.model_version = $version
RETURN count(n)
"""

# FalkorDB's vector score is a cosine *distance* (0 = same direction); the adapter returns 1 - d.
SIMILAR_ITEMS: Final = """
CALL db.idx.vector.queryNodes('Item', 'embedding', $k, vecf32($v)) YIELD node, score
RETURN node.id, score
"""
SIMILAR_USERS: Final = """
CALL db.idx.vector.queryNodes('User', 'embedding', $k, vecf32($v)) YIELD node, score
RETURN node.id, score
"""
ITEM_EMBEDDING: Final = "MATCH (n:Item {id: $id}) RETURN n.embedding"
USER_EMBEDDING: Final = "MATCH (n:User {id: $id}) RETURN n.embedding"
ANY_ITEM_EMBEDDING: Final = "MATCH (n:Item) WHERE n.embedding IS NOT NULL RETURN n.embedding LIMIT 1"
ANY_USER_EMBEDDING: Final = "MATCH (n:User) WHERE n.embedding IS NOT NULL RETURN n.embedding LIMIT 1"
INDEX_STATUS: Final = "CALL db.indexes() YIELD label, status RETURN label, status"
VECTOR_INDEXES: Final = "CALL db.indexes() YIELD label, properties, types RETURN label, properties, types"

SET_META: Final = "MERGE (m:Meta {key: $key}) SET m.value = $value"
GET_META: Final = "MATCH (m:Meta {key: $key}) RETURN m.value"

# Erasure: the item degrees the user contributed are decremented before the node goes.
DELETE_USER: Final = """
MATCH (u:User {id: $id})
OPTIONAL MATCH (u)-[:INTERACTED]->(i:Item)
SET i.degree = i.degree - 1
WITH DISTINCT u
DETACH DELETE u
RETURN count(*)
"""

_MERGE_PROPS = ",\n      ".join(
    f"f.{p} = CASE WHEN e.{p} IS NULL THEN f.{p} ELSE coalesce(f.{p}, 0) + e.{p} END"
    for p in (*COUNT_PROPS, *SUM_PROPS)
)

# One query, so one atomic write: the source's edges are added onto the target's and the source
# is deleted together; a repeated call finds no source and changes nothing.
MERGE_USERS: Final = f"""
MATCH (src:User {{id: $src}})
MERGE (dst:User {{id: $dst}})
WITH src, dst
OPTIONAL MATCH (src)-[e:INTERACTED]->(i:Item)
FOREACH (_ IN CASE WHEN e IS NULL THEN [] ELSE [1] END |
  MERGE (dst)-[f:INTERACTED]->(i)
  ON CREATE SET f.weight = 0.0, f.count = 0, f.first_ts = e.first_ts, f.last_ts = e.last_ts,
      dst.degree = coalesce(dst.degree, 0) + 1, i.degree = i.degree + 1
  SET f.weight = f.weight + e.weight,
      f.count = f.count + e.count,
      f.first_ts = CASE WHEN e.first_ts < f.first_ts THEN e.first_ts ELSE f.first_ts END,
      f.last_ts = CASE WHEN e.last_ts > f.last_ts THEN e.last_ts ELSE f.last_ts END,
      i.degree = i.degree - 1,
      {_MERGE_PROPS}
)
WITH DISTINCT src
DETACH DELETE src
RETURN count(*)
"""

COUNT_USERS: Final = "MATCH (n:User) RETURN count(n)"
COUNT_ITEMS: Final = "MATCH (n:Item) RETURN count(n)"
COUNT_CATEGORIES: Final = "MATCH (n:Category) RETURN count(n)"
COUNT_INTERACTIONS: Final = "MATCH ()-[e:INTERACTED]->() RETURN count(e)"

CLEAR: Final = "MATCH (n) DETACH DELETE n"


# -- behaviour events: exactly-once ingestion, reweigh, event-id records (graphrec.events) --------

# One query, hence one atomic (and, embedded, fsynced) write: the batch is applied only when none of
# its event keys was seen and none of its users withdrew consent; otherwise nothing is written and
# the offending keys / users come back so the caller can drop them and retry. FOREACH keeps the row
# alive when the batch is refused.
UPSERT_INTERACTIONS_ONCE: Final = f"""
UNWIND $keys AS k
OPTIONAL MATCH (x:EventKeys) WHERE k IN x.keys
WITH collect(CASE WHEN x IS NULL THEN NULL ELSE k END) AS existing
UNWIND $users AS uid
OPTIONAL MATCH (u:User {{id: uid}}) WHERE u.consent = false
WITH existing, collect(u.id) AS refused
WITH existing, refused, size(existing) = 0 AND size(refused) = 0 AS ok
FOREACH (g IN CASE WHEN ok THEN $groups ELSE [] END |
  CREATE (:EventKeys {{user: g.u, keys: g.keys, at: $now}}))
FOREACH (r IN CASE WHEN ok THEN $rows ELSE [] END |
{_EDGE_MERGE}
)
RETURN ok, existing, refused
"""

EDGE_AGGREGATES_OF_USERS: Final = """
UNWIND $ids AS uid
MATCH (u:User {id: uid})-[e:INTERACTED]->(i:Item)
RETURN uid, i.id, properties(e)
ORDER BY uid, i.id
"""

# Optimistic: `count` only grows, so an edge whose count moved since it was read is left alone.
SET_INTERACTION_WEIGHTS: Final = """
UNWIND $rows AS r
MATCH (:User {id: r.u})-[e:INTERACTED]->(:Item {id: r.i})
WHERE e.count = r.c
SET e.weight = r.w
RETURN r.u, r.i
"""

REASSIGN_EVENT_IDS: Final = """
MATCH (x:EventKeys {user: $src})
SET x.user = $dst
RETURN sum(size(x.keys))
"""

# Chunked deletes return (records deleted, event keys they held): the first drives the chunking.
ERASE_EVENT_IDS: Final = """
MATCH (x:EventKeys {user: $id})
WITH x LIMIT $limit
WITH x, size(x.keys) AS n
DELETE x
RETURN count(*), sum(n)
"""

EXPIRE_EVENT_IDS: Final = """
MATCH (x:EventKeys) WHERE x.at < $before
WITH x LIMIT $limit
WITH x, size(x.keys) AS n
DELETE x
RETURN count(*), sum(n)
"""

GET_USER: Final = "MATCH (u:User {id: $id}) RETURN properties(u)"
