:param user => 'u1';
:param item => 'i2';
:param seeds => 20;
:param fanout => 50;
:param half_life_days => 30.0;

// Why was item $item recommended to user $user? The weighted co-interaction paths the API's graph
// candidates come from (Neo4jStore.co_interaction_candidates_for_user, USER_CANDIDATES in
// src/graphrec/graph/cypher/statements.py), with the same caps and the same formula:
//   seeds     the user's $seeds most recent items (API default 20)
//   co-users  at most $fanout other users per seed, then at most $fanout items per co-user (default 50)
//   path      user -> seed <- co-user -> item
//   score     decay(w(user, seed)) * w(co-user, item) / sqrt(seed.degree * item.degree)
//             decay(w) = w * 0.5 ^ (age of the seed edge / half-life)
// One row per path, strongest first; `score` is the item's total (the API's graph score, before
// blending with the embedding score); `evidence` the (at most 3) seeds contributing most, as the
// API's explanation lists them. Graph view: the paths. No row = no path within the caps (the item
// came from the embedding side, or the user already has it).
MATCH (u:User {id: $user})-[e0:INTERACTED]->(s:Item)
WITH u, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH u, s, e0, e0.weight * 0.5 ^ (toFloat(timestamp() - e0.last_ts) / ($half_life_days * 86400000.0)) AS w0
CALL (s, u) {
  MATCH (s)<-[:INTERACTED]-(v:User)
  WHERE v <> u
  RETURN v LIMIT $fanout
}
CALL (v) {
  MATCH (v)-[e2:INTERACTED]->(c:Item)
  RETURN c, e2 LIMIT $fanout
}
WITH u, s, e0, w0, v, c, e2
WHERE c.id = $item AND c <> s AND NOT EXISTS { (u)-[:INTERACTED]->(c) }
MATCH p = (u)-[e0]->(s)<-[e1:INTERACTED]-(v)-[e2]->(c)
WITH p, s, v, c, w0, e2,
     w0 * e2.weight / sqrt(toFloat(s.degree * c.degree)) AS path_score
WITH collect({p: p, seed: s.id, co_user: v.id, w0: w0, w2: e2.weight, seed_degree: s.degree,
              item_degree: c.degree, path_score: path_score}) AS paths
WITH paths, reduce(total = 0.0, x IN paths | total + x.path_score) AS score
UNWIND paths AS x
WITH paths, score, x.seed AS seed, sum(x.path_score) AS via_seed
ORDER BY via_seed DESC, seed
WITH paths, score, collect(seed)[..3] AS evidence
UNWIND paths AS x
RETURN x.seed AS seed, x.co_user AS co_user, round(x.w0, 4) AS decayed_seed_weight,
       x.w2 AS co_user_weight, x.seed_degree AS seed_degree, x.item_degree AS item_degree,
       round(x.path_score, 6) AS path_score, round(score, 6) AS score, evidence, x.p AS path
ORDER BY path_score DESC, seed, co_user;
