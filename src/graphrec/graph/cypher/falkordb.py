"""Every statement the FalkorDB adapter sends: the shared ones in FalkorDB's dialect, plus its own.

FalkorDB's own statements are the ones for what only it does: its index DDL (``CREATE INDEX FOR``,
vector indexes with ``OPTIONS {dimension, similarityFunction}``) and index listing, the migration
of older per-event records, and the multi-step writes that must be ONE query because each FalkorDB
query is atomic and there are no client-side transactions (a ledger-guarded batch, the exactly-once
event write).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, LiteralString

from graphrec.graph.cypher.dialect import FALKORDB as DIALECT
from graphrec.graph.cypher.statements import APPLY_DELTA, UPSERT_DELTAS, Statements, ledger_claim, shared


@dataclass(frozen=True, slots=True)
class RangeIndex:
    """An exact-match index on one node property."""

    label: str
    prop: str
    create: LiteralString


def _range(label: str, prop: str) -> RangeIndex:
    return RangeIndex(label, prop, f"CREATE INDEX FOR (n:{label}) ON (n.{prop})")


def _vector_index(label: str) -> str:
    return (
        f"CREATE VECTOR INDEX FOR (n:{label}) ON (n.embedding) "
        "OPTIONS {dimension: $dim, similarityFunction: 'cosine'}"
    )


@dataclass(frozen=True, slots=True)
class FalkorDBStatements(Statements):
    """The shared statements in FalkorDB's dialect, and the statements only the FalkorDB adapter sends."""

    SCHEMA: tuple[RangeIndex, ...]
    INDEXES: LiteralString
    MIGRATE_EVENT_IDS: LiteralString
    UPSERT_INTERACTIONS_GUARDED: LiteralString
    UPSERT_INTERACTIONS_ONCE: LiteralString
    CREATE_ITEM_VECTOR_INDEX: LiteralString
    CREATE_USER_VECTOR_INDEX: LiteralString
    DROP_ITEM_VECTOR_INDEX: LiteralString
    DROP_USER_VECTOR_INDEX: LiteralString
    ANY_ITEM_EMBEDDING: LiteralString
    ANY_USER_EMBEDDING: LiteralString
    SCHEMA_NAMES: LiteralString
    CLEAR: LiteralString


FALKORDB: Final = FalkorDBStatements(
    **shared(DIALECT),
    SCHEMA=(
        _range("User", "id"),
        _range("Item", "id"),
        _range("Category", "name"),
        _range("Ledger", "key"),
        _range("Meta", "key"),
        _range("Segment", "name"),
        # Seen-event records, one node per (user, write) holding that write's keys: FalkorDB indexes
        # array elements, so `k IN x.keys` is an index lookup and a batch creates one node per user
        # instead of one per event (measured: the exactly-once write costs ~25% less server CPU).
        _range("EventKeys", "keys"),
        _range("EventKeys", "user"),
        _range("EventKeys", "at"),
    ),
    # Every index with its state: what apply_schema and the vector index checks look at first.
    INDEXES="CALL db.indexes() YIELD label, properties, types, status RETURN label, properties, types, status",
    # Stores written before the grouped records: fold per-event (:EventId) nodes into (:EventKeys),
    # a chunk at a time (run by apply_schema until nothing is left).
    MIGRATE_EVENT_IDS="""MATCH (x:EventId)
WITH x LIMIT $limit
WITH x.user AS user, x.at AS at, collect(x) AS xs
CREATE (:EventKeys {user: user, at: at, keys: [y IN xs | y.key]})
FOREACH (y IN xs | DELETE y)
RETURN sum(size(xs))""",
    # The ledger claim and the batch in one query, hence one atomic write.
    UPSERT_INTERACTIONS_GUARDED=f"{ledger_claim(DIALECT)}\nWITH l\n{UPSERT_DELTAS}",
    # One query, hence one atomic (and, embedded, fsynced) write: the batch is applied only when
    # none of its event keys was seen and none of its users withdrew consent; otherwise nothing is
    # written and the offending keys / users come back so the caller can drop them and retry, with
    # the matched records' [keys, fingerprints] (each record once) so it can tell retries from
    # conflicting reuses of a key.
    # FOREACH keeps the row alive when the batch is refused.
    UPSERT_INTERACTIONS_ONCE=f"""UNWIND $keys AS k
OPTIONAL MATCH (x:EventKeys) WHERE k IN x.keys
WITH collect(CASE WHEN x IS NULL THEN NULL ELSE k END) AS existing,
     collect(DISTINCT CASE WHEN x.fps IS NULL THEN NULL ELSE [x.keys, x.fps] END) AS records
UNWIND $users AS uid
OPTIONAL MATCH (u:User {{id: uid}}) WHERE u.consent = false
WITH existing, records, collect(u.id) AS refused
WITH existing, records, refused, size(existing) = 0 AND size(refused) = 0 AS ok
FOREACH (g IN CASE WHEN ok THEN $groups ELSE [] END |
  CREATE (:EventKeys {{user: g.u, keys: g.keys, fps: g.fps, at: $now}}))
FOREACH (r IN CASE WHEN ok THEN $rows ELSE [] END |
{APPLY_DELTA}
)
RETURN ok, existing, refused, records""",
    CREATE_ITEM_VECTOR_INDEX=_vector_index("Item"),
    CREATE_USER_VECTOR_INDEX=_vector_index("User"),
    DROP_ITEM_VECTOR_INDEX="DROP VECTOR INDEX FOR (n:Item) ON (n.embedding)",
    DROP_USER_VECTOR_INDEX="DROP VECTOR INDEX FOR (n:User) ON (n.embedding)",
    # Every label, relationship type and property key the graph has: what `graphrec cypher` compares
    # a statement's names with, to warn about a misspelt one as Neo4j does (FalkorDB itself is silent).
    SCHEMA_NAMES="""CALL db.labels() YIELD label RETURN 'label' AS kind, label AS name
UNION ALL CALL db.relationshipTypes() YIELD relationshipType RETURN 'type' AS kind, relationshipType AS name
UNION ALL CALL db.propertyKeys() YIELD propertyKey RETURN 'key' AS kind, propertyKey AS name""",
    # The width of the stored vectors (FalkorDB's index listing does not show it).
    ANY_ITEM_EMBEDDING="MATCH (n:Item) WHERE n.embedding IS NOT NULL RETURN n.embedding LIMIT 1",
    ANY_USER_EMBEDDING="MATCH (n:User) WHERE n.embedding IS NOT NULL RETURN n.embedding LIMIT 1",
    CLEAR="MATCH (n) DETACH DELETE n",
)
