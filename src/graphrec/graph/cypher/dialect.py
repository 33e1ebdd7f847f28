"""The pieces of Cypher that Neo4j and FalkorDB spell differently, and nothing else.

Why a dialect: both adapters send the same statements but for a handful of constructs each store
writes its own way. :mod:`graphrec.graph.cypher.statements` writes every shared statement once and
asks a :class:`Dialect` for those pieces. Every piece is rendered from fixed strings when the
statement sets are built at import, never from input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from textwrap import indent


@dataclass(frozen=True, slots=True)
class Dialect:
    """One store's spelling of the constructs that differ.

    ``scoped_subqueries``: ``CALL (x) { ... }`` (Neo4j 5.23+, where ``CALL { WITH x ... }`` is
    deprecated) rather than the importing ``WITH`` FalkorDB needs. ``exists_subqueries``:
    ``NOT EXISTS { pattern }`` rather than a bare pattern predicate (which Neo4j deprecates and
    FalkorDB alone understands). ``count_subqueries``: ``COUNT { pattern }`` expressions (Neo4j
    answers them from its count store) rather than one ``CALL`` subquery per count. ``row_locks``:
    concurrent transactions lock rows (Neo4j), so a read-then-write takes the write lock first and
    batches are sorted to lock in one order; FalkorDB runs one query at a time and needs neither.
    ``event_label`` and ``event_keys``: the seen-event record's label and how many event keys one
    record ``x`` holds (Neo4j: one key per record; FalkorDB: one record per user and write, its keys
    in an indexed array). ``store_vector``: the clause that stores row ``r``'s vector ``r.v`` as
    node ``n``'s ``embedding``, in the type the store's vector index reads.
    """

    name: str
    scoped_subqueries: bool
    exists_subqueries: bool
    count_subqueries: bool
    row_locks: bool
    event_label: str
    event_keys: str
    store_vector: str

    def subquery(self, imports: str, body: str) -> str:
        """A ``CALL`` subquery running ``body`` with the outer variables ``imports`` in scope."""
        if self.scoped_subqueries:
            return f"CALL ({imports}) {{\n{indent(body, '  ')}\n}}"
        return f"CALL {{\n  WITH {imports}\n{indent(body, '  ')}\n}}"

    def not_exists(self, pattern: str) -> str:
        """A predicate true when ``pattern`` has no match."""
        return f"NOT EXISTS {{ {pattern} }}" if self.exists_subqueries else f"NOT {pattern}"

    def lock(self, var: str) -> str:
        """Clauses taking ``var``'s write lock before it is read (Neo4j's documented lost-update
        idiom), so two transactions doing read-then-write on it serialise; empty where queries
        never run concurrently."""
        return f"SET {var}._lock = true\nREMOVE {var}._lock\n" if self.row_locks else ""

    def counts(self, patterns: Mapping[str, str]) -> str:
        """One statement returning, under each name, how many matches its pattern has."""
        if self.count_subqueries:
            return "RETURN " + ",\n       ".join(f"COUNT {{ {p} }} AS {name}" for name, p in patterns.items())
        calls = "\n".join(f"CALL {{ MATCH {p} RETURN count(*) AS {name} }}" for name, p in patterns.items())
        return f"{calls}\nRETURN {', '.join(patterns)}"


NEO4J: Dialect = Dialect(
    name="Neo4j",
    scoped_subqueries=True,
    exists_subqueries=True,
    count_subqueries=True,
    row_locks=True,
    event_label="EventId",
    event_keys="1",
    store_vector="CALL db.create.setNodeVectorProperty(n, 'embedding', r.v)",
)
FALKORDB: Dialect = Dialect(
    name="FalkorDB",
    scoped_subqueries=False,
    exists_subqueries=False,
    count_subqueries=False,
    row_locks=False,
    event_label="EventKeys",
    event_keys="size(x.keys)",
    store_vector="SET n.embedding = vecf32(r.v)",
)
