:param item => 'i1';
:param fanout => 50;
:param k => 20;
:param candidates_per_source => 100;
:param limit => 25;

// FalkorDB form of ../11-also-liked.cypher: the same rules, parameters and rows, in FalkorDB's subquery
// syntax (`CALL { WITH x ... }` for `CALL (x) { ... }`), the ranked items kept as ids and values
// (FalkorDB cannot read a node's properties once it is taken out of a list of maps).
MATCH (s:Item {id: $item})
CALL {
  WITH s
  MATCH (s)<-[e1:INTERACTED]-(v:User)
  WHERE e1.weight > 0
  WITH v, e1 ORDER BY e1.weight DESC, v.id LIMIT $fanout
  RETURN v, e1
}
CALL {
  WITH v
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
WITH collect({id: c.id, title: c.title, degree: c.degree, score: score, co_users: co_users,
              liked_both: liked_both}) AS ranked
UNWIND range(1, size(ranked)) AS rank
WITH ranked[rank - 1] AS r, rank, size(ranked) AS candidates,
     CASE WHEN $k > $candidates_per_source THEN $k ELSE $candidates_per_source END AS cut
RETURN r.id AS item, r.title AS title, r.score AS score, rank, candidates, cut, rank <= cut AS in_cut,
       r.co_users AS co_users, r.liked_both AS liked_both, r.degree AS degree
ORDER BY rank
LIMIT $limit;
