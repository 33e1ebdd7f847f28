:param min_size => 3;
:param limit => 20;

// Communities of users and items that interact with each other (Louvain modularity over the
// weighted user-item graph, GDS plugin): who clusters with what, each community's size, its most
// interacted items and its top categories. Small communities (< $min_size nodes) are left out;
// at most $limit rows, largest first.
// Dislikes (weight <= 0) are left out of the projection. The in-memory graph `graphrec-louvain` is
// dropped first (left over from an interrupted run) and at the end; nothing is written to the database.
// Single-threaded, so the communities are the same every run.
// No FalkorDB form: the `requires:` line tells tools (graphrec.graph.query_headers) it needs Neo4j GDS.
// requires: neo4j-gds
CALL () {
  CALL gds.graph.drop('graphrec-louvain', false) YIELD graphName
  RETURN count(graphName) AS dropped
}
MATCH (u:User)-[e:INTERACTED]->(i:Item)
WHERE e.weight > 0
WITH gds.graph.project('graphrec-louvain', u, i,
                       {sourceNodeLabels: 'User', targetNodeLabels: 'Item', relationshipProperties: {weight: e.weight}},
                       {undirectedRelationshipTypes: ['*']}) AS g
CALL gds.louvain.stream(g.graphName, {relationshipWeightProperty: 'weight', concurrency: 1})
YIELD nodeId, communityId
WITH g.graphName AS graphName, communityId, collect(gds.util.asNode(nodeId)) AS members
WITH graphName, collect({community: communityId, members: members}) AS communities
CALL gds.graph.drop(graphName) YIELD graphName AS dropped
UNWIND communities AS c
WITH c.community AS community, c.members AS members
WHERE size(members) >= $min_size
WITH community, size(members) AS size, [m IN members WHERE m:User] AS users, [m IN members WHERE m:Item] AS items
CALL (items) {
  UNWIND items AS i
  WITH i ORDER BY coalesce(i.degree, 0) DESC, i.id LIMIT 5
  RETURN collect(coalesce(i.title, i.id)) AS top_items
}
CALL (items) {
  UNWIND items AS i
  MATCH (i)-[:IN_CATEGORY]->(cat:Category)
  WITH cat.name AS category, count(*) AS n
  ORDER BY n DESC, category LIMIT 3
  RETURN collect(category) AS top_categories
}
RETURN community, size, size(users) AS users, size(items) AS items, top_items, top_categories,
       [u IN users | u.id][..5] AS sample_users
ORDER BY size DESC, community
LIMIT $limit;
