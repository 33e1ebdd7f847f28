"""Reading back what a publish left in the store, as an analyst would, on either store.

Why here and not on the store ports: nothing in graphrec reads embeddings back from the graph (the
API serves them from the model artifact); analysts do, through the vector indexes, with queries like
those under graph/queries/. These run such queries through ``run_cypher`` on the real store.
"""

from __future__ import annotations

import numpy as np

from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.port import GraphStore
from graphrec.graph.records import NodeLabel

_EMBEDDING = {
    "Item": "MATCH (n:Item {id: $id}) RETURN n.embedding",
    "User": "MATCH (n:User {id: $id}) RETURN n.embedding",
}
# Neo4j's score is (1 + cosine) / 2; FalkorDB's is the cosine distance, and its index is approximate
# (HNSW: asked for exactly k it returns fewer now and then), so it is asked for more and cut to k.
_NEAREST = {
    ("neo4j", "Item"): "CALL db.index.vector.queryNodes('item_embedding', $k, $v) YIELD node, score "
    "RETURN node.id, 2 * score - 1",
    ("neo4j", "User"): "CALL db.index.vector.queryNodes('user_embedding', $k, $v) YIELD node, score "
    "RETURN node.id, 2 * score - 1",
    ("falkordb", "Item"): "CALL db.idx.vector.queryNodes('Item', 'embedding', $k * 4 + 10, vecf32($v)) "
    "YIELD node, score RETURN node.id, 1 - score",
    ("falkordb", "User"): "CALL db.idx.vector.queryNodes('User', 'embedding', $k * 4 + 10, vecf32($v)) "
    "YIELD node, score RETURN node.id, 1 - score",
}


def stored_embedding(store: GraphStore, label: NodeLabel, node_id: str) -> np.ndarray | None:
    """The node's stored embedding, or None (no node, or no embedding)."""
    rows = store.run_cypher(_EMBEDDING[label], {"id": node_id}).rows
    return None if not rows or rows[0][0] is None else np.asarray(rows[0][0], dtype=np.float32)


def nearest(store: GraphStore, label: NodeLabel, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The ``k`` nodes nearest ``vector`` through the store's vector index, as (id, cosine), best first."""
    kind = "neo4j" if isinstance(store, Neo4jStore) else "falkordb"
    rows = store.run_cypher(_NEAREST[kind, label], {"k": k, "v": np.asarray(vector, np.float32).tolist()}).rows
    return sorted(((str(i), float(c)) for i, c in rows), key=lambda r: (-r[1], r[0]))[:k]
