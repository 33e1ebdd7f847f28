"""Every statement the Neo4j adapter sends: the shared ones in the Neo4j dialect, plus its own.

Target: Neo4j 5.23+ and 2025.x, valid as both Cypher 5 and Cypher 25 (the test suite lints every
statement :func:`all_statements` lists with Neo4j's own front end). Neo4j's own statements are the
ones for what only it does: index commands that cannot share a transaction with data writes, the
multi-statement transactions (a ledger-guarded batch, the exactly-once event write), its
count-store counts, batched deletes, and Graph Data Science.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources
from typing import Final, LiteralString

from graphrec.graph.cypher.dialect import NEO4J as DIALECT
from graphrec.graph.cypher.script import split_cypher_script
from graphrec.graph.cypher.statements import (
    DELTA_ROW,
    Statements,
    degree_change,
    degree_updates,
    edge_after,
    ledger_claim,
    property_map,
    shared,
)

# Vector index names (also created, with dimension 64, by schema.cypher).
ITEM_VECTOR_INDEX: Final = "item_embedding"
USER_VECTOR_INDEX: Final = "user_embedding"

SCHEMA_RESOURCE: Final = "schema.cypher"


def _vector_index(name: str, label: str, var: str) -> str:
    return f"""CREATE VECTOR INDEX {name} IF NOT EXISTS
FOR ({var}:{label}) ON {var}.embedding
OPTIONS {{indexConfig: {{`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine',
                        `vector.quantization.enabled`: false}}}}"""


def _upsert_by_user() -> str:
    """Neo4j's ``UPSERT_INTERACTIONS``: the shared statement's meaning (the edge rule rendered by the same
    functions, :func:`~graphrec.graph.cypher.statements.edge_after` and ``degree_change``) for a batch
    of delta rows grouped by user (:func:`graphrec.graph.rows.rows_by_user`); returns the rows applied.

    Why not the shared ``MERGE (u)-[e:INTERACTED]->(i)`` per row: Neo4j answers that MERGE with an
    Expand(Into) over an endpoint's relationships, run twice for a new edge (before and under its
    locks), so a row cost about its user's degree in db hits (PROFILE, ML-100K, ~106 edges per user:
    152 db hits per row of a batch of new edges, 126 per row of existing ones) and an import slowed
    as degrees grew. Here each user's edges are read once per batch: the user is write-locked first,
    one pass over its relationships finds those to the batch's items (``g.at``: item id -> index of
    its row), the deltas are added onto them as one property map each, and the rows left create their
    edge with its values (the rule applied to the start values) in the CREATE. The lock keeps it
    correct under concurrent writers: every write of a user's ``INTERACTED`` edges takes the user's
    write lock before it reads them (this statement) or creates one (``MERGE`` and ``CREATE`` lock
    both endpoints), and holds it to commit, so no transaction adds an edge to that user between this
    read and this commit: no duplicate edge, no lost delta."""
    add = DELTA_ROW
    return f"""UNWIND $users AS g
MERGE (u:User {{id: g.u}})
{DIALECT.lock("u")}WITH u, g
CALL (u, g) {{
  MATCH (u)-[e:INTERACTED]->(i:Item)
  WITH u, i, e, g.rows[g.at[i.id]] AS r
  WHERE r IS NOT NULL
  SET {degree_updates("u", "i", degree_change("e", add))},
    e += {property_map(edge_after("e", add))}
  RETURN collect(i.id) AS existing
}}
CALL (u, g, existing) {{
  UNWIND g.rows AS r
  WITH u, r
  WHERE NOT r.i IN existing
  MERGE (i:Item {{id: r.i}})
  ON CREATE SET i.provisional = true
  CREATE (u)-[e:INTERACTED {property_map(edge_after("e", add, new=True))}]->(i)
  SET {degree_updates("u", "i", degree_change("e", add, new=True))}
  RETURN count(e) AS created
}}
RETURN sum(size(existing) + created)"""


@dataclass(frozen=True, slots=True)
class Neo4jStatements(Statements):
    """The shared statements in Neo4j's dialect, and the statements only the Neo4j adapter sends."""

    VECTOR_INDEX_INFO: LiteralString
    DROP_ITEM_VECTOR_INDEX: LiteralString
    DROP_USER_VECTOR_INDEX: LiteralString
    CREATE_ITEM_VECTOR_INDEX: LiteralString
    CREATE_USER_VECTOR_INDEX: LiteralString
    AWAIT_INDEX: LiteralString
    AWAIT_INDEXES: LiteralString
    CLAIM_LEDGER_BATCH: LiteralString
    EXISTING_EVENT_IDS: LiteralString
    REFUSING_USERS: LiteralString
    RECORD_EVENT_IDS: LiteralString
    CLEAR: LiteralString
    PING: LiteralString
    GDS_AVAILABLE: LiteralString
    GDS_DROP_GRAPH: LiteralString
    GDS_PROJECT_EDGES: LiteralString
    GDS_FASTRP_MUTATE: LiteralString
    GDS_KNN_ITEMS: LiteralString


NEO4J: Final = Neo4jStatements(
    **(shared(DIALECT) | {"UPSERT_INTERACTIONS": _upsert_by_user()}),
    # Index commands cannot share a transaction with data writes: each runs on its own.
    VECTOR_INDEX_INFO="""SHOW VECTOR INDEXES YIELD name, state, options
WHERE name = $name
RETURN options.indexConfig['vector.dimensions'] AS dim, state,
       coalesce(options.indexConfig['vector.quantization.enabled'], true) AS quantized""",
    DROP_ITEM_VECTOR_INDEX="DROP INDEX item_embedding IF EXISTS",
    DROP_USER_VECTOR_INDEX="DROP INDEX user_embedding IF EXISTS",
    CREATE_ITEM_VECTOR_INDEX=_vector_index(ITEM_VECTOR_INDEX, "Item", "i"),
    CREATE_USER_VECTOR_INDEX=_vector_index(USER_VECTOR_INDEX, "User", "u"),
    AWAIT_INDEX="CALL db.awaitIndex($name, $timeout)",
    AWAIT_INDEXES="CALL db.awaitIndexes($timeout)",
    # First statement of a guarded batch's transaction (UPSERT_INTERACTIONS follows, in the same
    # transaction). No row back = the ledger expects another batch: apply nothing. Run twice (a
    # driver retry after an unacknowledged commit) it claims nothing the second time.
    CLAIM_LEDGER_BATCH=ledger_claim(DIALECT) + "\nRETURN l.next_seq",
    # The exactly-once event write is one transaction: these two decide; if both come back empty,
    # RECORD_EVENT_IDS and UPSERT_INTERACTIONS write. A concurrent writer recording the same key
    # loses on the EventId.key uniqueness constraint.
    # The keys already seen, and the content fingerprint of those recorded with one.
    EXISTING_EVENT_IDS="""UNWIND $keys AS key
MATCH (x:EventId {key: key})
RETURN collect(x.key) AS existing, collect(CASE WHEN x.fp IS NULL THEN NULL ELSE [x.key, x.fp] END) AS fps""",
    REFUSING_USERS="""UNWIND $users AS uid
MATCH (u:User {id: uid})
WHERE u.consent = false
RETURN collect(u.id) AS refused""",
    RECORD_EVENT_IDS="UNWIND $keys AS k\nCREATE (:EventId {key: k.k, user: k.u, fp: k.f, at: $now})",
    # Batched so a large graph is not deleted in one huge transaction; needs an auto-commit
    # transaction (session.run), not execute_query/execute_write. Deleting twice is harmless.
    CLEAR="MATCH (n)\nCALL (n) {\n  DETACH DELETE n\n} IN TRANSACTIONS OF 10000 ROWS",
    PING="RETURN 1",
    # Graph Data Science (the GDS-FastRP-kNN evaluation baseline): a training split is projected
    # straight from a parameter (integer node ids: users 0..U-1, items U..U+I-1), so it never reads
    # or writes the database's own nodes and the split stays exact.
    GDS_AVAILABLE="SHOW PROCEDURES YIELD name WHERE name = 'gds.fastRP.mutate' RETURN count(name)",
    GDS_DROP_GRAPH="CALL gds.graph.drop($graph, false) YIELD graphName RETURN graphName",
    GDS_PROJECT_EDGES="""UNWIND $edges AS e
WITH gds.graph.project($graph, e[0], e[1],
                       {sourceNodeLabels: 'User', targetNodeLabels: 'Item',
                        relationshipProperties: {weight: toFloat(e[2])}},
                       {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.nodeCount, g.relationshipCount""",
    GDS_FASTRP_MUTATE="""CALL gds.fastRP.mutate($graph, {embeddingDimension: $dim, iterationWeights: $iteration_weights,
                                normalizationStrength: $normalization, relationshipWeightProperty: 'weight',
                                randomSeed: $seed, concurrency: 1, mutateProperty: 'fastrp'})
YIELD nodePropertiesWritten
RETURN nodePropertiesWritten""",
    GDS_KNN_ITEMS="""CALL gds.knn.stream($graph, {nodeLabels: ['Item'], nodeProperties: {fastrp: 'COSINE'}, topK: $k,
                             sampleRate: 1.0, deltaThreshold: 0.0, randomSeed: $seed, concurrency: 1})
YIELD node1, node2, similarity
RETURN node1, node2, similarity""",
)


def schema_statements() -> list[LiteralString]:
    """The statements of the packaged ``schema.cypher`` (``graph/schema.cypher`` links to it).

    The file is package data shipped with graphrec, never user input, hence ``LiteralString``.
    """
    resource = resources.files("graphrec.graph").joinpath(SCHEMA_RESOURCE)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{resource} is missing from the installed graphrec package: package data must include 'graph/*.cypher'"
        ) from exc
    return [trusted_cypher(stmt) for _, stmt in split_cypher_script(text)]


def trusted_cypher(text: str) -> LiteralString:
    """``text`` (packaged or operator-written Cypher, never request data) declared trusted for the
    driver's ``LiteralString`` parameters, by name so every such query can be found. mypy treats
    ``LiteralString`` as ``str`` (it does not check PEP 675), hence no cast here."""
    return text


def all_statements() -> dict[str, str]:
    """Every statement the Neo4j adapter (and its GDS client) can send, by name: the fields of
    :data:`NEO4J` and the schema file's statements."""
    found = {f"NEO4J.{f.name}": str(getattr(NEO4J, f.name)) for f in fields(NEO4J)}
    for k, stmt in enumerate(schema_statements(), start=1):
        found[f"schema.cypher#{k}"] = stmt
    return found
