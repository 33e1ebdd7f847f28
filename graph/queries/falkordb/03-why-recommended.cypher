:param user => 'u1';
:param item => 'i2';
:param as_of => null;
:param seeds => 20;
:param fanout => 50;
:param co_items => 400;
:param half_life_days => 30.0;
:param k => 20;
:param candidates_per_source => 100;

// FalkorDB form of ../03-why-recommended.cypher: the same rules, caps, parameters, scores, rank and cut,
// in FalkorDB's subquery syntax (`CALL { WITH x ... }` for `CALL (x) { ... }`), candidates kept as ids
// with a seen-list test (FalkorDB cannot match a node taken out of a list), no path column and no
// round(): the scores are unrounded. `as_of_time` is a localdatetime (UTC, whole seconds).
MATCH (u:User {id: $user})-[x:INTERACTED]->(i:Item)
WITH u, max(x.last_ts) AS newest, collect(i.id) AS seen
WITH u, seen, coalesce($as_of, newest) AS as_of
MATCH (u)-[e0:INTERACTED]->(s:Item)
WHERE e0.weight > 0
WITH seen, as_of, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH seen, as_of, s, e0.weight * 0.5 ^ (toFloat(as_of - e0.last_ts) / ($half_life_days * 86400000.0)) AS w0
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
WITH seen, as_of, s, w0, v, c, e2
WHERE c <> s AND c.degree > 0
WITH seen, as_of, s, w0, c, sum(e2.weight) AS co, collect({v: v.id, w2: e2.weight}) AS via
WITH seen, as_of, s, w0, c.id AS c, c.degree AS c_degree, via, co / sqrt(toFloat(s.degree * c.degree)) AS sc
ORDER BY sc DESC, c
WITH seen, as_of, s, w0, collect({c: c, deg: c_degree, sc: sc, via: via})[..$co_items] AS kept
UNWIND kept AS t
WITH seen, as_of, s, w0, t
WHERE NOT t.c IN seen
WITH seen, as_of, collect({seed: s.id, seed_degree: s.degree, w0: w0, c: t.c, deg: t.deg, sc: t.sc, via: t.via}) AS found
CALL {
  WITH found
  UNWIND found AS f
  WITH f.c AS c, sum(f.w0 * f.sc) AS total
  WHERE total > 0
  WITH c, total ORDER BY total DESC, c
  RETURN collect(c) AS ranked
}
WITH as_of, found, size(ranked) AS candidates,
     [r IN range(0, size(ranked) - 1) WHERE ranked[r] = $item | r + 1][0] AS rank,
     CASE WHEN 3 * $k + size(seen) > $candidates_per_source THEN 3 * $k + size(seen)
          ELSE $candidates_per_source END AS cut
WHERE rank IS NOT NULL
UNWIND [f IN found WHERE f.c = $item] AS t
UNWIND t.via AS hop
WITH as_of, candidates, rank, cut,
     collect({seed: t.seed, co_user: hop.v, w0: t.w0, w2: hop.w2, seed_degree: t.seed_degree, item_degree: t.deg,
              path_score: t.w0 * hop.w2 / sqrt(toFloat(t.seed_degree * t.deg)), via_seed: t.w0 * t.sc}) AS paths
WITH as_of, candidates, rank, cut, paths, reduce(total = 0.0, x IN paths | total + x.path_score) AS score
UNWIND paths AS x
WITH as_of, candidates, rank, cut, paths, score, x.seed AS seed, max(x.via_seed) AS via_seed
ORDER BY via_seed DESC, seed
WITH as_of, candidates, rank, cut, paths, score, collect(CASE WHEN via_seed > 0 THEN seed END)[..3] AS evidence
UNWIND paths AS x
RETURN x.seed AS seed, x.co_user AS co_user, x.w0 AS decayed_seed_weight, x.w2 AS co_user_weight,
       x.seed_degree AS seed_degree, x.item_degree AS item_degree, x.path_score AS path_score,
       score, evidence, rank, candidates, cut, rank <= cut AS in_cut, as_of,
       localdatetime({year: 1970}) + duration({days: as_of / 86400000, seconds: (as_of % 86400000) / 1000}) AS as_of_time
ORDER BY path_score DESC, seed, co_user;
