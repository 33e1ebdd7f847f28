:param max_degree => 2;
:param limit => 100;

// Cold and unconnected items: items liked by at most $max_degree users (degree = number of users
// with a positive edge; an item only disliked has degree 0), least connected first. `status`:
//   unconnected      no interactions and no category: invisible to every traversal
//   no interactions  reachable only through its category or the embedding side
//   cold             a few interactions: traversal scores are noisy, the embedding matters
// `has_embedding` says whether the published model covers it (inductive inference fills it in).
// Scans the Item label: run on a quiet server for very large catalogues.
MATCH (i:Item)
WHERE coalesce(i.degree, 0) <= $max_degree
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
WITH i, coalesce(i.degree, 0) AS degree, collect(c.name) AS categories
RETURN i.id AS item, i.title AS title, degree, categories,
       CASE
         WHEN degree = 0 AND size(categories) = 0 THEN 'unconnected'
         WHEN degree = 0 THEN 'no interactions'
         ELSE 'cold'
       END AS status,
       i.embedding IS NOT NULL AS has_embedding
ORDER BY degree, size(categories), item
LIMIT $limit;
