:param user => 'u1';
:param item => 'i2';
:param seeds => 20;
:param fanout => 50;
:param half_life_days => 30.0;

// FalkorDB form of ../03-why-recommended.cypher: the same paths, caps and scores, in FalkorDB's
// subquery syntax (`CALL { WITH x ... }` for `CALL (x) { ... }`), pattern predicates for
// `EXISTS { }`, and without round(): the scores are unrounded.
MATCH (u:User {id: $user})-[e0:INTERACTED]->(s:Item)
WITH u, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH u, s, e0, e0.weight * 0.5 ^ (toFloat(timestamp() - e0.last_ts) / ($half_life_days * 86400000.0)) AS w0
CALL {
  WITH s, u
  MATCH (s)<-[:INTERACTED]-(v:User)
  WHERE v <> u
  RETURN v LIMIT $fanout
}
CALL {
  WITH v
  MATCH (v)-[e2:INTERACTED]->(c:Item)
  RETURN c, e2 LIMIT $fanout
}
WITH u, s, e0, w0, v, c, e2
WHERE c.id = $item AND c <> s AND NOT (u)-[:INTERACTED]->(c)
WITH s, v, c, w0, e2, w0 * e2.weight / sqrt(toFloat(s.degree * c.degree)) AS path_score
WITH collect({seed: s.id, co_user: v.id, w0: w0, w2: e2.weight, seed_degree: s.degree,
              item_degree: c.degree, path_score: path_score}) AS paths
WITH paths, reduce(total = 0.0, x IN paths | total + x.path_score) AS score
UNWIND paths AS x
WITH paths, score, x.seed AS seed, sum(x.path_score) AS via_seed
ORDER BY via_seed DESC, seed
WITH paths, score, collect(seed)[..3] AS evidence
UNWIND paths AS x
RETURN x.seed AS seed, x.co_user AS co_user, x.w0 AS decayed_seed_weight, x.w2 AS co_user_weight,
       x.seed_degree AS seed_degree, x.item_degree AS item_degree, x.path_score AS path_score,
       score, evidence
ORDER BY path_score DESC, seed, co_user;
