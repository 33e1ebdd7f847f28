:param user => 'u1';
:param k => 10;

// FalkorDB form of ../12-similar-users.cypher: FalkorDB's vector index (db.idx.vector.queryNodes on
// User.embedding) returns the cosine distance, so `cosine` is 1 - score (unrounded); the same
// neighbours, also asked for $k * 4 + 10 (HNSW is approximate) and cut to $k.
MATCH (u:User {id: $user})
WHERE u.embedding IS NOT NULL
CALL db.idx.vector.queryNodes('User', 'embedding', $k * 4 + 10, u.embedding) YIELD node, score
WITH u, node, score
WHERE node <> u
WITH u, node, 1.0 - score AS cosine ORDER BY cosine DESC, node.id LIMIT $k
OPTIONAL MATCH (u)-[a:INTERACTED]->(i:Item)<-[b:INTERACTED]-(node)
WHERE a.weight > 0 AND b.weight > 0
WITH u, node, cosine, count(i) AS liked_both
RETURN node.id AS user, cosine, liked_both, node.degree AS degree,
       node.model_version = u.model_version AS same_model
ORDER BY cosine DESC, user;
