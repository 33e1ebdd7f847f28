"""Cypher sent by the Neo4j adapter, as named ``LiteralString`` constants with parameters only.

Target: Neo4j 5.23+ and 2025.x, valid as both Cypher 5 and Cypher 25 (checked offline by
``graphrec.graph.cypher_lint`` with Neo4j's own front end). Subqueries use the variable-scope form
``CALL (x) { ... }`` (5.23+); the older ``CALL { WITH x ... }`` is deprecated.

Semantics mirror ``falkordb_cypher`` (the FalkorDB adapter) statement for statement; where Neo4j
needs another shape (multi-statement transactions, lock idiom, ``db.index.vector.*``) it says so.

Per-type edge properties (``n_<type>``, ``s_<type>``) are rendered once, at import, from the fixed
tuples in ``graphrec.event_types``; nothing here is ever built from input. Every public ``str``
constant is a complete statement (fragments are ``_private``), which is what the lint test
enumerates.
"""

from __future__ import annotations

from importlib import resources
from typing import Final, LiteralString

from graphrec.event_types import COUNT_PROPS, SUM_PROPS

# The graph vocabulary; the Cypher lint warns on any label, type or (read) property outside it.
LABELS: Final[tuple[str, ...]] = ("User", "Item", "Category", "Ledger", "Meta", "EventId")
RELATIONSHIP_TYPES: Final[tuple[str, ...]] = ("INTERACTED", "IN_CATEGORY")
PROPERTY_KEYS: Final[tuple[str, ...]] = (
    "id", "title", "name", "degree", "embedding", "model_version",
    "weight", "count", "first_ts", "last_ts", *COUNT_PROPS, *SUM_PROPS,
    "key", "next_seq", "complete", "rows", "completed_at", "value",
    "consent", "user", "at",
)

# Vector index names (also created, with dimension 64, by schema.cypher).
ITEM_VECTOR_INDEX: Final = "item_embedding"
USER_VECTOR_INDEX: Final = "user_embedding"

SCHEMA_RESOURCE: Final = "schema.cypher"

# -- schema ---------------------------------------------------------------------------------------

# Index management commands cannot share a transaction with data writes: each runs on its own.
VECTOR_INDEX_INFO: Final = """
SHOW VECTOR INDEXES YIELD name, state, options
WHERE name = $name
RETURN options.indexConfig['vector.dimensions'] AS dim, state,
       coalesce(options.indexConfig['vector.quantization.enabled'], true) AS quantized
"""
DROP_ITEM_VECTOR_INDEX: Final = "DROP INDEX item_embedding IF EXISTS"
DROP_USER_VECTOR_INDEX: Final = "DROP INDEX user_embedding IF EXISTS"
CREATE_ITEM_VECTOR_INDEX: Final = """
CREATE VECTOR INDEX item_embedding IF NOT EXISTS
FOR (i:Item) ON i.embedding
OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine',
                        `vector.quantization.enabled`: false}}
"""
CREATE_USER_VECTOR_INDEX: Final = """
CREATE VECTOR INDEX user_embedding IF NOT EXISTS
FOR (u:User) ON u.embedding
OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine',
                        `vector.quantization.enabled`: false}}
"""
AWAIT_INDEX: Final = "CALL db.awaitIndex($name, $timeout)"
AWAIT_INDEXES: Final = "CALL db.awaitIndexes($timeout)"

# -- writes ---------------------------------------------------------------------------------------

UPSERT_USERS: Final = """
UNWIND $rows AS r
MERGE (u:User {id: r.id})
SET u += r.props
RETURN count(u)
"""

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

_AGGREGATE_PROPS: Final = ",\n    ".join(
    f"e.{p} = CASE WHEN r.{p} IS NULL THEN e.{p} ELSE coalesce(e.{p}, 0) + r.{p} END"
    for p in (*COUNT_PROPS, *SUM_PROPS)
)

# Rows are pre-aggregated per (user, item) and carry only the per-type keys they add to (absent
# keys leave those properties alone). A new edge bumps the endpoint `degree` properties used for
# degree normalisation. `SET x.p = x.p + ...` reads the property under the write lock, so
# concurrent batches on the same edge or node cannot lose updates; creating the edge has already
# locked both endpoints when `degree` is read.
UPSERT_INTERACTIONS: Final = f"""
UNWIND $rows AS r
MERGE (u:User {{id: r.u}})
MERGE (i:Item {{id: r.i}})
MERGE (u)-[e:INTERACTED]->(i)
ON CREATE SET e.weight = 0.0, e.count = 0, e.first_ts = r.f, e.last_ts = r.l,
    u.degree = coalesce(u.degree, 0) + 1, i.degree = coalesce(i.degree, 0) + 1
SET e.weight = e.weight + r.w,
    e.count = e.count + r.c,
    e.first_ts = CASE WHEN r.f < e.first_ts THEN r.f ELSE e.first_ts END,
    e.last_ts = CASE WHEN r.l > e.last_ts THEN r.l ELSE e.last_ts END,
    {_AGGREGATE_PROPS}
RETURN count(e)
"""

# First statement of a guarded batch's transaction (then UPSERT_INTERACTIONS, in the same
# transaction). `SET l._lock ... REMOVE l._lock` takes the ledger's write lock *before* next_seq is
# read, so two writers racing on one key serialise and only one claims the batch (Neo4j's
# documented lost-update idiom). No row back = the ledger expects another batch: apply nothing.
# Run twice (a driver retry after an unacknowledged commit) it claims nothing the second time.
CLAIM_LEDGER_BATCH: Final = """
MERGE (l:Ledger {key: $key})
ON CREATE SET l.next_seq = 0, l.complete = false
SET l._lock = true
REMOVE l._lock
WITH l
WHERE l.next_seq = $seq
SET l.next_seq = $seq + 1
RETURN l.next_seq
"""

LEDGER_POSITION: Final = "MATCH (l:Ledger {key: $key}) RETURN l.next_seq, l.complete"

LEDGER_COMPLETE: Final = """
MERGE (l:Ledger {key: $key})
ON CREATE SET l.next_seq = 0
SET l.complete = true, l.rows = $rows, l.completed_at = $now
"""

# -- reads ----------------------------------------------------------------------------------------

USER_INTERACTIONS: Final = """
MATCH (:User {id: $id})-[e:INTERACTED]->(i:Item)
RETURN i.id, properties(e)
ORDER BY e.last_ts DESC, i.id
LIMIT $limit
"""

USER_HISTORY: Final = """
MATCH (:User {id: $id})-[e:INTERACTED]->(i:Item)
RETURN i.id, e.weight, e.last_ts
ORDER BY e.last_ts DESC, i.id
LIMIT $limit
"""

# Every item the user ever interacted with: the seen-filter of a user whose history read was cut
# at its limit (the recent window decides the seeds, the whole history what counts as seen).
USER_ITEM_IDS: Final = "MATCH (:User {id: $id})-[:INTERACTED]->(i:Item) RETURN i.id"
USER_EXISTS: Final = "MATCH (u:User {id: $id}) RETURN count(u)"
ITEM_EXISTS: Final = "MATCH (i:Item {id: $id}) RETURN count(i)"

# user -> seed item -> co-user -> candidate, each hop capped by a LIMITed subquery so a hub item or
# a heavy user cannot blow up latency (the caps take any `fanout` neighbours, unordered, like the
# FalkorDB adapter: ordering would force reading a hub's whole neighbourhood). Decay uses the seed
# edge's last_ts: w0 = weight * 0.5 ^ (age / half-life). Path score = w0 * w_co / sqrt(deg(seed) *
# deg(candidate)); the user's own items are dropped after the caps. Evidence: the (at most 3)
# seeds contributing most to a candidate. Ties break on id so results are deterministic.
USER_CANDIDATES: Final = """
MATCH (u:User {id: $id})-[e0:INTERACTED]->(s:Item)
WITH u, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH u, s, e0.weight * 0.5 ^ (toFloat($now - e0.last_ts) / $half_life_ms) AS w0
CALL (s, u) {
  MATCH (s)<-[:INTERACTED]-(v:User)
  WHERE v <> u
  RETURN v LIMIT $fanout
}
CALL (v) {
  MATCH (v)-[e2:INTERACTED]->(c:Item)
  RETURN c, e2 LIMIT $fanout
}
WITH u, s, c, w0 * e2.weight / sqrt(toFloat(s.degree * c.degree)) AS path_score
WHERE c <> s AND NOT EXISTS { (u)-[:INTERACTED]->(c) }
WITH c, s, sum(path_score) AS via_score
ORDER BY via_score DESC, s.id
WITH c, sum(via_score) AS score, collect(s.id)[..3] AS evidence
RETURN c.id, score, evidence
ORDER BY score DESC, c.id
LIMIT $limit
"""

ITEM_CANDIDATES: Final = """
MATCH (s:Item {id: $id})
CALL (s) {
  MATCH (s)<-[e1:INTERACTED]-(v:User)
  RETURN v, e1 LIMIT $fanout
}
CALL (v) {
  MATCH (v)-[e2:INTERACTED]->(c:Item)
  RETURN c, e2 LIMIT $fanout
}
WITH s, c, e1.weight * e2.weight / sqrt(toFloat(s.degree * c.degree)) AS path_score
WHERE c <> s
WITH c, sum(path_score) AS score
RETURN c.id, score
ORDER BY score DESC, c.id
LIMIT $limit
"""

# Export pages: a user-id (item-id) cursor rather than SKIP, which is linear in its offset.
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
WITH i, collect(c.name) AS categories
RETURN i.id, i.title, categories
ORDER BY i.id
"""

PAGE_USER_IDS: Final = """
MATCH (u:User) WHERE u.id > $after
RETURN u.id ORDER BY u.id LIMIT $limit
"""

EDGES_OF_USERS: Final = """
UNWIND $ids AS uid
MATCH (u:User {id: uid})-[e:INTERACTED]->(i:Item)
WHERE e.last_ts >= $since
RETURN uid, i.id, e.weight, e.last_ts
ORDER BY uid, i.id
"""

# -- embeddings -----------------------------------------------------------------------------------

# setNodeVectorProperty stores a compact float32 array and checks the value is a valid vector.
WRITE_ITEM_EMBEDDINGS: Final = """
UNWIND $rows AS r
MATCH (n:Item {id: r.id})
CALL db.create.setNodeVectorProperty(n, 'embedding', r.v)
SET n.model_version = $version
RETURN count(n)
"""
WRITE_USER_EMBEDDINGS: Final = """
UNWIND $rows AS r
MATCH (n:User {id: r.id})
CALL db.create.setNodeVectorProperty(n, 'embedding', r.v)
SET n.model_version = $version
RETURN count(n)
"""

# Neo4j's cosine score is (1 + cos) / 2 in [0, 1]; the adapter returns cos = 2 * score - 1, the
# same cosine similarity the FalkorDB adapter returns.
SIMILAR_ITEMS: Final = """
CALL db.index.vector.queryNodes('item_embedding', $k, $v) YIELD node, score
RETURN node.id, score
"""
SIMILAR_USERS: Final = """
CALL db.index.vector.queryNodes('user_embedding', $k, $v) YIELD node, score
RETURN node.id, score
"""

ITEM_EMBEDDING: Final = "MATCH (n:Item {id: $id}) RETURN n.embedding"
USER_EMBEDDING: Final = "MATCH (n:User {id: $id}) RETURN n.embedding"

# -- meta -----------------------------------------------------------------------------------------

SET_META: Final = "MERGE (m:Meta {key: $key}) SET m.value = $value"
GET_META: Final = "MATCH (m:Meta {key: $key}) RETURN m.value"

# -- identity and privacy -------------------------------------------------------------------------

# Erasure: the item degrees the user contributed are decremented before the node goes; one
# statement, one transaction. Run again it finds no user and changes nothing.
DELETE_USER: Final = """
MATCH (u:User {id: $id})
OPTIONAL MATCH (u)-[:INTERACTED]->(i:Item)
SET i.degree = i.degree - 1
WITH DISTINCT u
DETACH DELETE u
RETURN count(*)
"""

_MERGE_PROPS: Final = ",\n      ".join(
    f"f.{p} = CASE WHEN e.{p} IS NULL THEN f.{p} ELSE coalesce(f.{p}, 0) + e.{p} END"
    for p in (*COUNT_PROPS, *SUM_PROPS)
)

# The source's edges are added onto the target's (created if missing) and the source is deleted,
# all in one statement; a repeated call finds no source and changes nothing. The subquery returns
# one row (an aggregate) whether or not the source has edges.
MERGE_USERS: Final = f"""
MATCH (src:User {{id: $src}})
MERGE (dst:User {{id: $dst}})
WITH src, dst
CALL (src, dst) {{
  MATCH (src)-[e:INTERACTED]->(i:Item)
  MERGE (dst)-[f:INTERACTED]->(i)
  ON CREATE SET f.weight = 0.0, f.count = 0, f.first_ts = e.first_ts, f.last_ts = e.last_ts,
      dst.degree = coalesce(dst.degree, 0) + 1, i.degree = i.degree + 1
  SET f.weight = f.weight + e.weight,
      f.count = f.count + e.count,
      f.first_ts = CASE WHEN e.first_ts < f.first_ts THEN e.first_ts ELSE f.first_ts END,
      f.last_ts = CASE WHEN e.last_ts > f.last_ts THEN e.last_ts ELSE f.last_ts END,
      i.degree = i.degree - 1,
      {_MERGE_PROPS}
  RETURN count(f) AS moved
}}
DETACH DELETE src
RETURN count(*)
"""

# -- housekeeping ---------------------------------------------------------------------------------

# Label and type counts come from Neo4j's count store: constant time, one round trip.
COUNTS: Final = """
RETURN COUNT { (:User) } AS users,
       COUNT { (:Item) } AS items,
       COUNT { (:Category) } AS categories,
       COUNT { ()-[:INTERACTED]->() } AS interactions
"""

# Batched so a large graph is not deleted in one huge transaction; needs an auto-commit
# transaction (session.run), not execute_query/execute_write. Deleting twice is harmless.
CLEAR: Final = """
MATCH (n)
CALL (n) {
  DETACH DELETE n
} IN TRANSACTIONS OF 10000 ROWS
"""

PING: Final = "RETURN 1"


# -- behaviour events: exactly-once ingestion, reweigh, event-id records (graphrec.events) --------

# upsert_interactions_once is one execute_write transaction: EXISTING_EVENT_IDS and
# REFUSING_USERS decide; if both come back empty, RECORD_EVENT_IDS and UPSERT_INTERACTIONS (in
# batches) write, and all of it commits together. A concurrent writer recording the same key loses
# on the EventId.key uniqueness constraint; the adapter then re-runs the check, which now reports
# the key as existing (FalkorDB does all of this in one query).
EXISTING_EVENT_IDS: Final = """
UNWIND $keys AS key
MATCH (x:EventId {key: key})
RETURN collect(x.key) AS existing
"""

REFUSING_USERS: Final = """
UNWIND $users AS uid
MATCH (u:User {id: uid})
WHERE u.consent = false
RETURN collect(u.id) AS refused
"""

RECORD_EVENT_IDS: Final = """
UNWIND $keys AS k
CREATE (:EventId {key: k.k, user: k.u, at: $now})
"""

EDGE_AGGREGATES_OF_USERS: Final = """
UNWIND $ids AS uid
MATCH (u:User {id: uid})-[e:INTERACTED]->(i:Item)
RETURN uid, i.id, properties(e)
ORDER BY uid, i.id
"""

# Optimistic: `count` only grows, so an edge whose count moved since it was read is left alone.
# The edge is write-locked (`_lock`) before `count` is compared, so an upsert committing between
# the comparison and the SET cannot have its weight overwritten.
SET_INTERACTION_WEIGHTS: Final = """
UNWIND $rows AS r
MATCH (:User {id: r.u})-[e:INTERACTED]->(:Item {id: r.i})
SET e._lock = true
REMOVE e._lock
WITH r, e
WHERE e.count = r.c
SET e.weight = r.w
RETURN r.u, r.i
"""

REASSIGN_EVENT_IDS: Final = """
MATCH (x:EventId {user: $src})
SET x.user = $dst
RETURN count(x)
"""

ERASE_EVENT_IDS: Final = """
MATCH (x:EventId {user: $id})
WITH x LIMIT $limit
DELETE x
RETURN count(*)
"""

EXPIRE_EVENT_IDS: Final = """
MATCH (x:EventId) WHERE x.at < $before
WITH x LIMIT $limit
DELETE x
RETURN count(*)
"""

GET_USER: Final = "MATCH (u:User {id: $id}) RETURN properties(u)"


# -- scripts --------------------------------------------------------------------------------------

# -- Graph Data Science (analyst tools and the GDS-FastRP-kNN evaluation baseline) --------------
# The baseline projects a training split straight from a parameter (integer node ids: users 0..U-1,
# items U..U+I-1), so it never reads or writes the database's own nodes and the split stays exact.

GDS_AVAILABLE: Final = "SHOW PROCEDURES YIELD name WHERE name = 'gds.fastRP.mutate' RETURN count(name)"
GDS_DROP_GRAPH: Final = "CALL gds.graph.drop($graph, false) YIELD graphName RETURN graphName"
GDS_PROJECT_EDGES: Final = """
UNWIND $edges AS e
WITH gds.graph.project($graph, e[0], e[1],
                       {sourceNodeLabels: 'User', targetNodeLabels: 'Item',
                        relationshipProperties: {weight: toFloat(e[2])}},
                       {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.nodeCount, g.relationshipCount
"""
GDS_FASTRP_MUTATE: Final = """
CALL gds.fastRP.mutate($graph, {embeddingDimension: $dim, iterationWeights: $iteration_weights,
                                normalizationStrength: $normalization, relationshipWeightProperty: 'weight',
                                randomSeed: $seed, concurrency: 1, mutateProperty: 'fastrp'})
YIELD nodePropertiesWritten
RETURN nodePropertiesWritten
"""
GDS_KNN_ITEMS: Final = """
CALL gds.knn.stream($graph, {nodeLabels: ['Item'], nodeProperties: {fastrp: 'COSINE'}, topK: $k,
                             sampleRate: 1.0, deltaThreshold: 0.0, randomSeed: $seed, concurrency: 1})
YIELD node1, node2, similarity
RETURN node1, node2, similarity
"""


def split_cypher_script(text: str) -> list[tuple[int, str]]:
    """Split a ``.cypher`` script into ``(first line number, statement)`` on top-level ``;``.

    Semicolons inside strings, backtick names and comments do not split. Neo4j Browser client
    commands (lines such as ``:param dim => 64`` or ``:use neo4j`` at the start of a statement) are
    not Cypher and are dropped, as are chunks holding only comments.
    """
    statements: list[tuple[int, str]] = []
    buf: list[str] = []
    start_line = 1
    i, n, line = 0, len(text), 1

    def pending_code() -> str:
        return _strip_comments("".join(buf)).strip()

    def flush() -> None:
        stmt = "".join(buf).strip()
        if _strip_comments(stmt).strip():
            statements.append((start_line, stmt))
        buf.clear()

    while i < n:
        ch = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and not pending_code():
            stripped = text[i:].lstrip(" \t")
            if stripped.startswith(":") and len(stripped) > 1 and stripped[1].isalpha():
                j = text.find("\n", i)
                j = n if j < 0 else j  # drop the client command line (keep the newline)
                i = j
                continue
        if not pending_code() and not ch.isspace() and not text.startswith(("//", "/*"), i):
            start_line = line
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" and ch != "`" else 1
            chunk = text[i : j + 1]
        elif text.startswith("//", i):
            j = text.find("\n", i)
            chunk = text[i:] if j < 0 else text[i:j]
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            chunk = text[i:] if j < 0 else text[i : j + 2]
        elif ch == ";":
            flush()
            i += 1
            continue
        else:
            chunk = ch
        buf.append(chunk)
        line += chunk.count("\n")
        i += len(chunk)
    flush()
    return statements


def cypher_segments(text: str) -> list[tuple[str, str]]:
    """``text`` cut into ``("literal" | "comment" | "code", segment)`` pieces that join back to it.

    Strings, backtick names (with backslash escapes outside backticks), ``//`` and ``/* */``
    comments are recognised once here; the script splitter and the lint's parameter finder both
    read Cypher through this.
    """
    pieces: list[tuple[str, str]] = []
    code_start = i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" and ch != "`" else 1
            end, kind = min(j + 1, n), "literal"
        elif text.startswith("//", i):
            j = text.find("\n", i)
            end, kind = (n if j < 0 else j), "comment"
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            end, kind = (n if j < 0 else j + 2), "comment"
        else:
            i += 1
            continue
        if code_start < i:
            pieces.append(("code", text[code_start:i]))
        pieces.append((kind, text[i:end]))
        code_start = i = end
    if code_start < n:
        pieces.append(("code", text[code_start:]))
    return pieces


def _strip_comments(text: str) -> str:
    return "".join(seg for kind, seg in cypher_segments(text) if kind != "comment")


def schema_statements() -> list[LiteralString]:
    """The statements of the packaged ``schema.cypher`` (``graph/schema.cypher`` links to it).

    The file is package data shipped with graphrec, never user input, hence ``LiteralString``.
    """
    resource = resources.files("graphrec.graph").joinpath(SCHEMA_RESOURCE)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{resource} is missing from the installed graphrec package: "
                                "package data must include 'graph/*.cypher'") from exc
    return [_trusted(stmt) for _, stmt in split_cypher_script(text)]


def _trusted(text: str) -> LiteralString:
    return text  # type: ignore[return-value]


def all_statements() -> dict[str, str]:
    """Every statement the Neo4j adapter can send: public ``str`` constants + schema statements."""
    found = {name: value for name, value in globals().items()
             if isinstance(value, str) and name.isupper() and not name.startswith("_")
             and name not in _NOT_CYPHER}
    for k, stmt in enumerate(schema_statements(), start=1):
        found[f"schema.cypher#{k}"] = stmt
    return found


_NOT_CYPHER: Final = frozenset({"ITEM_VECTOR_INDEX", "USER_VECTOR_INDEX", "SCHEMA_RESOURCE"})
