:param days => 7;
:param as_of => null;

// The graph at a glance: nodes per label, relationships per type, plus recent activity and how
// many nodes carry embeddings of the published model. Every row is there even when its count is 0
// (each count is taken with no grouping key, so an empty label still gives its row).
//   days   the activity window: INTERACTED edges whose last_ts lies in the $days days up to as_of
//   as_of  epoch ms the window ends at; null (default) = the newest INTERACTED.last_ts in the graph,
//          graphrec's decay reference (graphrec.clock.decay_reference: the newest event that takes
//          part, never the wall clock), so a data set from 1997 still shows its last week. The row
//          'as_of (epoch ms)' gives the value used; in Neo4j `datetime({epochMillis: ...})` reads it.
// Label and type counts come from Neo4j's count store (constant time, even on a large graph);
// the activity rows use the range index on INTERACTED.last_ts; the embedding rows scan the label
// (seconds on millions of nodes). Runs unchanged on the embedded store (`graphrec cypher -f`).
MATCH (n:User) WITH count(n) AS count
RETURN 'nodes' AS kind, 'User' AS name, count
UNION ALL
MATCH (n:Item) WITH count(n) AS count
RETURN 'nodes' AS kind, 'Item' AS name, count
UNION ALL
MATCH (n:Category) WITH count(n) AS count
RETURN 'nodes' AS kind, 'Category' AS name, count
UNION ALL
MATCH (n:EventId) WITH count(n) AS count
RETURN 'nodes' AS kind, 'EventId' AS name, count
UNION ALL
MATCH (n:Ledger) WITH count(n) AS count
RETURN 'nodes' AS kind, 'Ledger' AS name, count
UNION ALL
MATCH (n:Meta) WITH count(n) AS count
RETURN 'nodes' AS kind, 'Meta' AS name, count
UNION ALL
MATCH (n:Segment) WITH count(n) AS count
RETURN 'nodes' AS kind, 'Segment' AS name, count
UNION ALL
MATCH ()-[r:INTERACTED]->() WITH count(r) AS count
RETURN 'relationships' AS kind, 'INTERACTED' AS name, count
UNION ALL
MATCH ()-[r:IN_CATEGORY]->() WITH count(r) AS count
RETURN 'relationships' AS kind, 'IN_CATEGORY' AS name, count
UNION ALL
MATCH ()-[r:IN_SEGMENT]->() WITH count(r) AS count
RETURN 'relationships' AS kind, 'IN_SEGMENT' AS name, count
UNION ALL
MATCH ()-[r:INTERACTED]->() WITH coalesce($as_of, max(r.last_ts)) AS as_of
RETURN 'activity' AS kind, 'as_of (epoch ms)' AS name, as_of AS count
UNION ALL
MATCH ()-[r:INTERACTED]->() WITH coalesce($as_of, max(r.last_ts)) AS as_of
OPTIONAL MATCH ()-[e:INTERACTED]->()
WHERE e.last_ts >= as_of - $days * 86400000 AND e.last_ts <= as_of
WITH count(e) AS count
RETURN 'activity' AS kind, 'INTERACTED in the ' + toString($days) + ' days up to as_of' AS name, count
UNION ALL
MATCH (n:Item) WHERE n.embedding IS NOT NULL WITH count(n) AS count
RETURN 'model' AS kind, 'Item with embedding' AS name, count
UNION ALL
MATCH (n:User) WHERE n.embedding IS NOT NULL WITH count(n) AS count
RETURN 'model' AS kind, 'User with embedding' AS name, count;
