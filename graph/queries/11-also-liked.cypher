:param item => 'i1';
:param fanout => 50;
:param k => 20;
:param candidates_per_source => 100;
:param limit => 25;

// Users who liked $item also liked: the graph side of GET /v1/items/{id}/similar, by the rules the API
// uses (graphrec.recommend.cograph.CoInteractionIndex.candidates_for_item, the store's ITEM_CANDIDATES):
//   likers     the $fanout users who liked $item most (positive weight; ties: user id)
//   items      each liker's $fanout strongest edges by |weight| (ties: item id); a liker's dislike
//              (negative weight) counts against the item
//   score      sum over likers v of w(v, $item) * w(v, c) / sqrt(deg($item) * deg(c)), deg = liked
//              edges; only items with a positive score, best first (ties: item id): the API's
//              `scores.graph` of /similar?explain=true
//   rank, cut  the item's place in that list, and how many of them the API takes: max($k,
//              $candidates_per_source), ServingConfig.similar_limit in graphrec.recommend.serving_config
//              (API defaults: k 20, GRAPHREC_CANDIDATES_PER_SOURCE 100); `in_cut` false = the API never
//              sees this score
//   co_users   how many of the likers reach the item; `liked_both` how many of them liked it too
//   limit      how many rows (the best ones)
// Caveat: the API reads an in-memory index rebuilt every GRAPHREC_COGRAPH_REFRESH_S (300 s); until then
// its scores can differ from these (its explain=true answer gives the index's time as `graph_as_of_ms`).
// No row = nobody who liked $item liked anything else. FalkorDB form: falkordb/11-also-liked.cypher.
MATCH (s:Item {id: $item})
CALL (s) {
  MATCH (s)<-[e1:INTERACTED]-(v:User)
  WHERE e1.weight > 0
  WITH v, e1 ORDER BY e1.weight DESC, v.id LIMIT $fanout
  RETURN v, e1
}
CALL (v) {
  MATCH (v)-[e2:INTERACTED]->(c:Item)
  WITH c, e2 ORDER BY abs(e2.weight) DESC, c.id LIMIT $fanout
  RETURN c, e2
}
WITH s, v, e1, c, e2
WHERE c <> s AND c.degree > 0
WITH c, sum(e1.weight * e2.weight / sqrt(toFloat(s.degree * c.degree))) AS score, count(v) AS co_users,
     sum(CASE WHEN e2.weight > 0 THEN 1 ELSE 0 END) AS liked_both
WHERE score > 0
WITH c, score, co_users, liked_both ORDER BY score DESC, c.id
WITH collect({c: c, score: score, co_users: co_users, liked_both: liked_both}) AS ranked
UNWIND range(1, size(ranked)) AS rank
WITH ranked[rank - 1] AS r, rank, size(ranked) AS candidates,
     CASE WHEN $k > $candidates_per_source THEN $k ELSE $candidates_per_source END AS cut
RETURN r.c.id AS item, r.c.title AS title, r.score AS score, rank, candidates, cut, rank <= cut AS in_cut,
       r.co_users AS co_users, r.liked_both AS liked_both, r.c.degree AS degree
ORDER BY rank
LIMIT $limit;
