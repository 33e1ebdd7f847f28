"""The Cypher graphrec sends: one core of statements, two dialects, two statement sets.

- ``statements``: every statement both stores run, written once (the edge aggregate rule, the ledger
  claim and the traversals among them);
- ``dialect``: the few constructs Neo4j and FalkorDB spell differently;
- ``neo4j`` / ``falkordb``: each store's statement set (the shared statements in its dialect, plus
  what only that store sends);
- ``script``: splitting ``.cypher`` scripts into statements.
"""
