:param user => 'u1';
:param k => 10;

// Users similar to $user by the published GraphSAGE embeddings, through the `user_embedding` vector
// index (schema.cypher): "users like this one", user-user similarity in the model's space.
//   user  the user's id
//   k     how many neighbours
// `cosine` is the cosine of the two users' embedding vectors (Neo4j's score (1 + cosine) / 2 turned
// back); `liked_both` counts the items both users liked (positive weight), a check on the graph side;
// `same_model` whether both vectors come from the same published version.
// Caveat: the vector index is HNSW, an APPROXIMATE search: it is asked for $k * 4 + 10 candidates and
// the best $k are kept, which found the exact neighbours in the tests; an exact answer needs the
// artifact (ModelArtifact.user_embeddings). A user who only has events newer than the model gets an
// embedding at the next publish. No row = the user has no embedding yet (graphrec publish latest).
// FalkorDB form: falkordb/12-similar-users.cypher.
MATCH (u:User {id: $user})
WHERE u.embedding IS NOT NULL
CALL db.index.vector.queryNodes('user_embedding', $k * 4 + 10, u.embedding) YIELD node, score
WITH u, node, score
WHERE node <> u
WITH u, node, score ORDER BY score DESC, node.id LIMIT $k
OPTIONAL MATCH (u)-[a:INTERACTED]->(i:Item)<-[b:INTERACTED]-(node)
WHERE a.weight > 0 AND b.weight > 0
WITH u, node, score, count(i) AS liked_both
RETURN node.id AS user, round(2 * score - 1, 4) AS cosine, liked_both, node.degree AS degree,
       node.model_version = u.model_version AS same_model
ORDER BY score DESC, user;
