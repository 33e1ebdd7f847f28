:param user => 'u1';
:param item => 'i2';
:param seeds => 20;
:param fanout => 50;
:param co_items => 400;
:param half_life_days => 30.0;

// Why was item $item recommended to user $user? The paths behind the API's graph score, by the rules
// of graphrec.scoring.traversal (the API's in-memory index and the store's USER_CANDIDATES follow
// the same rules; a test holds all of them to one specification), with the API's defaults:
//   seeds     the user's $seeds most recent LIKED items (positive weight), decayed from the user's
//             newest edge: w0 = w * 0.5 ^ (age / half-life)
//   co-users  the $fanout users who liked the seed most (ties: user id)
//   items     each co-user's $fanout strongest edges by |weight| (ties: item id); a co-user's dislike
//             (negative weight) counts against the item
//   S(s, c)   sum of w(co-user, c) / sqrt(deg(s) * deg(c)), deg = liked edges; the seed counts for
//             $item only if $item is among the seed's $co_items best by S
//   score     sum over seeds of w0 * S(seed, $item); evidence = the (at most 3) seeds adding most
// One row per path, strongest first; `score` is the API's graph score (before blending), `evidence`
// its explanation. Graph view: the paths. No row = the item is no graph candidate for the user.
MATCH (u:User {id: $user})-[x:INTERACTED]->(:Item)
WITH u, max(x.last_ts) AS newest
MATCH (u)-[e0:INTERACTED]->(s:Item)
WHERE e0.weight > 0
WITH u, newest, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH u, s, e0, e0.weight * 0.5 ^ (toFloat(newest - e0.last_ts) / ($half_life_days * 86400000.0)) AS w0
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
WITH u, s, e0, w0, v, e1, c, e2
WHERE c <> s AND c.degree > 0
WITH u, s, e0, w0, c, sum(e2.weight) AS co, collect({v: v, e1: e1, e2: e2}) AS via
WITH u, s, e0, w0, c, via, co / sqrt(toFloat(s.degree * c.degree)) AS sc
ORDER BY sc DESC, c.id
WITH u, s, e0, w0, collect({c: c, sc: sc, via: via})[..$co_items] AS kept
UNWIND kept AS t
WITH u, s, e0, w0, t.c AS c, t.sc AS sc, t.via AS via
WHERE c.id = $item AND NOT EXISTS { (u)-[:INTERACTED]->(c) }
UNWIND via AS hop
WITH u, s, e0, w0, sc, c, hop.v AS v, hop.e1 AS e1, hop.e2 AS e2
MATCH p = (u)-[e0]->(s)<-[e1]-(v)-[e2]->(c)
WITH collect({p: p, seed: s.id, co_user: v.id, w0: w0, w2: e2.weight, seed_degree: s.degree,
              item_degree: c.degree, path_score: w0 * e2.weight / sqrt(toFloat(s.degree * c.degree)),
              via_seed: w0 * sc}) AS paths
WITH paths, reduce(total = 0.0, x IN paths | total + x.path_score) AS score
WHERE score > 0
UNWIND paths AS x
WITH paths, score, x.seed AS seed, max(x.via_seed) AS via_seed
ORDER BY via_seed DESC, seed
WITH paths, score, collect(CASE WHEN via_seed > 0 THEN seed END)[..3] AS evidence
UNWIND paths AS x
RETURN x.seed AS seed, x.co_user AS co_user, round(x.w0, 4) AS decayed_seed_weight,
       x.w2 AS co_user_weight, x.seed_degree AS seed_degree, x.item_degree AS item_degree,
       round(x.path_score, 6) AS path_score, round(score, 6) AS score, evidence, x.p AS path
ORDER BY path_score DESC, seed, co_user;
