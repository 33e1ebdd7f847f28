:param item => 'i1';
:param k => 10;

// FalkorDB form of ../04-similar-items.cypher: FalkorDB's vector index (db.idx.vector.queryNodes)
// returns the cosine distance, so `cosine` is 1 - score; the same neighbours as the API's
// /v1/items/{id}/similar embedding side. The index is approximate (HNSW): asked for exactly k+1 it
// sometimes returned fewer or missed true neighbours, so it is asked for $k * 4 + 10 and cut to $k,
// as the Neo4j form is.
MATCH (i:Item {id: $item})
WHERE i.embedding IS NOT NULL
CALL db.idx.vector.queryNodes('Item', 'embedding', $k * 4 + 10, i.embedding) YIELD node, score
WITH i, node, score
WHERE node <> i
OPTIONAL MATCH (node)-[:IN_CATEGORY]->(c:Category)
WITH i, node, score, collect(c.name) AS categories
RETURN node.id AS item, node.title AS title, categories, 1.0 - score AS cosine,
       node.degree AS degree, node.model_version = i.model_version AS same_model
ORDER BY cosine DESC, item
LIMIT $k;
