:param max_degree => 2;
:param limit => 100;

// Cold and unconnected items: items liked by at most $max_degree users, least connected first.
//   max_degree  the most likes an item may have to be listed
//   limit       how many rows
// `degree` is the number of users whose edge to the item has a positive weight (what the traversal
// counts); `interactions` the number of users with any edge to it, likes, neutral ratings (3 stars
// weigh 0) and dislikes alike. `status`:
//   unconnected      no interactions and no category: invisible to every traversal
//   no interactions  nobody interacted; reachable only through its category or the embedding side
//   no likes         interacted with, but no positive edge (neutral ratings, dislikes): the traversal
//                    never proposes it (on ML-100K, items rated 3 stars or less only)
//   cold             liked by a few users: traversal scores are noisy, the embedding matters
// `has_embedding` says whether the published model covers it (inductive inference fills it in).
// Scans the Item label: run on a quiet server for very large catalogues. Runs unchanged on the
// embedded store (`graphrec cypher -f`).
MATCH (i:Item)
WHERE coalesce(i.degree, 0) <= $max_degree
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
WITH i, coalesce(i.degree, 0) AS degree, collect(c.name) AS categories
OPTIONAL MATCH (i)<-[e:INTERACTED]-(:User)
WITH i, degree, categories, count(e) AS interactions
RETURN i.id AS item, i.title AS title, degree, interactions, categories,
       CASE
         WHEN interactions = 0 AND size(categories) = 0 THEN 'unconnected'
         WHEN interactions = 0 THEN 'no interactions'
         WHEN degree = 0 THEN 'no likes'
         ELSE 'cold'
       END AS status,
       i.embedding IS NOT NULL AS has_embedding
ORDER BY degree, interactions, size(categories), item
LIMIT $limit;
