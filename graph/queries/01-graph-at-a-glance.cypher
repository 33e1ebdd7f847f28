:param days => 7;

// The graph at a glance: nodes per label, relationships per type, plus recent activity and how
// many nodes carry embeddings of the published model.
// Label and type counts come from Neo4j's count store (constant time, even on a large graph);
// the "last $days days" row uses the range index on INTERACTED.last_ts; the embedding rows scan
// the label (seconds on millions of nodes).
MATCH (n:User) RETURN 'nodes' AS kind, 'User' AS name, count(n) AS count
UNION ALL
MATCH (n:Item) RETURN 'nodes' AS kind, 'Item' AS name, count(n) AS count
UNION ALL
MATCH (n:Category) RETURN 'nodes' AS kind, 'Category' AS name, count(n) AS count
UNION ALL
MATCH (n:EventId) RETURN 'nodes' AS kind, 'EventId' AS name, count(n) AS count
UNION ALL
MATCH (n:Ledger) RETURN 'nodes' AS kind, 'Ledger' AS name, count(n) AS count
UNION ALL
MATCH (n:Meta) RETURN 'nodes' AS kind, 'Meta' AS name, count(n) AS count
UNION ALL
MATCH (n:Segment) RETURN 'nodes' AS kind, 'Segment' AS name, count(n) AS count
UNION ALL
MATCH ()-[r:INTERACTED]->() RETURN 'relationships' AS kind, 'INTERACTED' AS name, count(r) AS count
UNION ALL
MATCH ()-[r:IN_CATEGORY]->() RETURN 'relationships' AS kind, 'IN_CATEGORY' AS name, count(r) AS count
UNION ALL
MATCH ()-[r:IN_SEGMENT]->() RETURN 'relationships' AS kind, 'IN_SEGMENT' AS name, count(r) AS count
UNION ALL
MATCH ()-[r:INTERACTED]->()
WHERE r.last_ts >= timestamp() - $days * 86400000
RETURN 'activity' AS kind, 'INTERACTED in the last ' + toString($days) + ' days' AS name, count(r) AS count
UNION ALL
MATCH (n:Item) WHERE n.embedding IS NOT NULL
RETURN 'model' AS kind, 'Item with embedding' AS name, count(n) AS count
UNION ALL
MATCH (n:User) WHERE n.embedding IS NOT NULL
RETURN 'model' AS kind, 'User with embedding' AS name, count(n) AS count;
