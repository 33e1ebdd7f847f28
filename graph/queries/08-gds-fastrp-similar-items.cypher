:param item => 'i1';
:param k => 10;
:param dim => 128;

// Items similar to $item by Graph Data Science: FastRP embeddings of the user-item graph, then kNN
// (cosine) over the items: the well-known Neo4j recommendation recipe, and the GDS-FastRP-kNN row of
// `graphrec evaluate` on Neo4j. Needs the GDS plugin (docker-compose.yml installs it). Compare with
// 04-similar-items (the GraphSAGE embeddings the API serves). $k neighbours, FastRP vectors of $dim floats.
// Dislikes (weight <= 0) are left out of the projection. The in-memory graph `graphrec-fastrp` is
// dropped first (left over from an interrupted run) and at the end; nothing is written to the database.
// FastRP and kNN run single-threaded with fixed seeds, so the answer is the same every time.
// No FalkorDB form: the `requires:` line tells tools (graphrec.graph.query_headers) it needs Neo4j GDS.
// requires: neo4j-gds
CALL () {
  CALL gds.graph.drop('graphrec-fastrp', false) YIELD graphName
  RETURN count(graphName) AS dropped
}
MATCH (u:User)-[e:INTERACTED]->(i:Item)
WHERE e.weight > 0
WITH gds.graph.project('graphrec-fastrp', u, i,
                       {sourceNodeLabels: 'User', targetNodeLabels: 'Item', relationshipProperties: {weight: e.weight}},
                       {undirectedRelationshipTypes: ['*']}) AS g
CALL gds.fastRP.mutate(g.graphName, {embeddingDimension: $dim, iterationWeights: [0.0, 1.0, 1.0, 0.5],
                                     normalizationStrength: -0.5, relationshipWeightProperty: 'weight',
                                     randomSeed: 42, concurrency: 1, mutateProperty: 'fastrp'})
YIELD nodePropertiesWritten
CALL gds.knn.stream(g.graphName, {nodeLabels: ['Item'], nodeProperties: {fastrp: 'COSINE'}, topK: $k,
                                  sampleRate: 1.0, deltaThreshold: 0.0, randomSeed: 42, concurrency: 1})
YIELD node1, node2, similarity
WITH g.graphName AS graphName, gds.util.asNode(node1) AS a, gds.util.asNode(node2) AS b, similarity
WHERE a.id = $item
WITH graphName, collect({item: b.id, title: b.title, degree: b.degree, similarity: similarity}) AS rows
CALL gds.graph.drop(graphName) YIELD graphName AS dropped
UNWIND rows AS r
RETURN r.item AS item, r.title AS title, r.degree AS degree, round(r.similarity, 4) AS fastrp_cosine
ORDER BY fastrp_cosine DESC, item;
