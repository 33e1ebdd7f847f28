:param user => 'u1';
:param item => 'i2';
:param seeds => 20;
:param fanout => 50;
:param co_items => 400;
:param half_life_days => 30.0;

// FalkorDB form of ../03-why-recommended.cypher: the same rules, caps and scores, in FalkorDB's
// subquery syntax (`CALL { WITH x ... }` for `CALL (x) { ... }`), a pattern predicate for
// `EXISTS { }`, no path column and no round(): the scores are unrounded.
MATCH (u:User {id: $user})-[x:INTERACTED]->(i:Item)
WITH u, max(x.last_ts) AS newest, collect(i.id) AS seen
MATCH (u)-[e0:INTERACTED]->(s:Item)
WHERE e0.weight > 0
WITH newest, seen, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH seen, s, e0.weight * 0.5 ^ (toFloat(newest - e0.last_ts) / ($half_life_days * 86400000.0)) AS w0
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
WITH seen, s, w0, v, c, e2
WHERE c <> s AND c.degree > 0
WITH seen, s, w0, c, sum(e2.weight) AS co, collect({v: v.id, w2: e2.weight}) AS via
WITH seen, s, w0, c.id AS c, c.degree AS c_degree, via, co / sqrt(toFloat(s.degree * c.degree)) AS sc
ORDER BY sc DESC, c
WITH seen, s, w0, collect({c: c, deg: c_degree, sc: sc, via: via})[..$co_items] AS kept
UNWIND kept AS t
WITH seen, s, w0, t
WHERE t.c = $item AND NOT t.c IN seen
UNWIND t.via AS hop
WITH collect({seed: s.id, co_user: hop.v, w0: w0, w2: hop.w2, seed_degree: s.degree, item_degree: t.deg,
              path_score: w0 * hop.w2 / sqrt(toFloat(s.degree * t.deg)), via_seed: w0 * t.sc}) AS paths
WITH paths, reduce(total = 0.0, x IN paths | total + x.path_score) AS score
WHERE score > 0
UNWIND paths AS x
WITH paths, score, x.seed AS seed, max(x.via_seed) AS via_seed
ORDER BY via_seed DESC, seed
WITH paths, score, collect(CASE WHEN via_seed > 0 THEN seed END)[..3] AS evidence
UNWIND paths AS x
RETURN x.seed AS seed, x.co_user AS co_user, x.w0 AS decayed_seed_weight, x.w2 AS co_user_weight,
       x.seed_degree AS seed_degree, x.item_degree AS item_degree, x.path_score AS path_score,
       score, evidence
ORDER BY path_score DESC, seed, co_user;
