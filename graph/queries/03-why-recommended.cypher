:param user => 'u1';
:param item => 'i2';
:param as_of => null;
:param seeds => 20;
:param fanout => 50;
:param co_items => 400;
:param half_life_days => 30.0;
:param k => 20;
:param candidates_per_source => 100;

// Why was item $item recommended to user $user? The paths behind the API's graph score, by the rules
// of graphrec.scoring.traversal (the API's in-memory index and the store's USER_CANDIDATES follow
// the same rules; a test holds all of them to one specification), with the API's defaults:
//   seeds     the user's $seeds most recent LIKED items (positive weight), decayed from as_of:
//             w0 = w * 0.5 ^ ((as_of - last_ts) / half-life), half-life = $half_life_days
//             (GRAPHREC_HALF_LIFE_DAYS, default 30)
//   as_of     epoch ms; null (default) = the user's newest edge, the API's decay reference
//             (graphrec.clock.decay_reference: the newest event that takes part, never the wall clock)
//   co-users  the $fanout users who liked the seed most (ties: user id)
//   items     each co-user's $fanout strongest edges by |weight| (ties: item id); a co-user's dislike
//             (negative weight) counts against the item
//   S(s, c)   sum of w(co-user, c) / sqrt(deg(s) * deg(c)), deg = liked edges; the seed counts for
//             $item only if $item is among the seed's $co_items best by S
//   score     sum over seeds of w0 * S(seed, $item); evidence = the (at most 3) seeds adding most
//   rank      $item's place among all the user's graph candidates (positive score, not seen; ties:
//             item id), out of `candidates`
//   cut       how many graph candidates the API takes: max($candidates_per_source, 3 * $k + seen
//             items), graphrec.recommend.serving_config.ServingConfig.candidate_limit for the first page
//             of a list of $k with exclude_seen (the API's defaults: k 20, GRAPHREC_CANDIDATES_PER_SOURCE
//             100); `in_cut` false = the API never sees this score (scores.graph is null there)
// One row per path, strongest first; `score` is the API's graph score (before blending), `evidence`
// its explanation. Graph view: the paths. No row = the item is no graph candidate for the user.
// Caveat: the API's graph side reads an in-memory index of everyone's edges, rebuilt every
// GRAPHREC_COGRAPH_REFRESH_S (300 s); the user's own edges are read live. Until the next rebuild the
// API's scores can differ from these; its answer with explain=true gives the index's time as
// `graph_as_of_ms` (edges written after it are not in the API's scores yet).
MATCH (u:User {id: $user})-[x:INTERACTED]->(i:Item)
WITH u, max(x.last_ts) AS newest, collect(i.id) AS seen
WITH u, seen, coalesce($as_of, newest) AS as_of
MATCH (u)-[e0:INTERACTED]->(s:Item)
WHERE e0.weight > 0
WITH u, seen, as_of, s, e0 ORDER BY e0.last_ts DESC, s.id LIMIT $seeds
WITH u, seen, as_of, s, e0, e0.weight * 0.5 ^ (toFloat(as_of - e0.last_ts) / ($half_life_days * 86400000.0)) AS w0
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
WITH u, seen, as_of, s, e0, w0, v, e1, c, e2
WHERE c <> s AND c.degree > 0
WITH u, seen, as_of, s, e0, w0, c, sum(e2.weight) AS co, collect({v: v, e1: e1, e2: e2}) AS via
WITH u, seen, as_of, s, e0, w0, c, via, co / sqrt(toFloat(s.degree * c.degree)) AS sc
ORDER BY sc DESC, c.id
WITH u, seen, as_of, s, e0, w0, collect({c: c, sc: sc, via: via})[..$co_items] AS kept
UNWIND kept AS t
WITH u, seen, as_of, s, e0, w0, t
WHERE NOT t.c.id IN seen
WITH u, seen, as_of, collect({s: s, e0: e0, w0: w0, c: t.c, sc: t.sc, via: t.via}) AS found
CALL (found) {
  UNWIND found AS f
  WITH f.c.id AS c, sum(f.w0 * f.sc) AS total
  WHERE total > 0
  WITH c, total ORDER BY total DESC, c
  RETURN collect(c) AS ranked
}
WITH u, as_of, found, size(ranked) AS candidates,
     [r IN range(0, size(ranked) - 1) WHERE ranked[r] = $item | r + 1][0] AS rank,
     CASE WHEN 3 * $k + size(seen) > $candidates_per_source THEN 3 * $k + size(seen)
          ELSE $candidates_per_source END AS cut
WHERE rank IS NOT NULL
UNWIND [f IN found WHERE f.c.id = $item] AS f
WITH u, as_of, candidates, rank, cut, f.s AS s, f.e0 AS e0, f.w0 AS w0, f.c AS c, f.sc AS sc, f.via AS via
UNWIND via AS hop
WITH u, as_of, candidates, rank, cut, s, e0, w0, sc, c, hop.v AS v, hop.e1 AS e1, hop.e2 AS e2
MATCH p = (u)-[e0]->(s)<-[e1]-(v)-[e2]->(c)
WITH as_of, candidates, rank, cut,
     collect({p: p, seed: s.id, co_user: v.id, w0: w0, w2: e2.weight, seed_degree: s.degree,
              item_degree: c.degree, path_score: w0 * e2.weight / sqrt(toFloat(s.degree * c.degree)),
              via_seed: w0 * sc}) AS paths
WITH as_of, candidates, rank, cut, paths, reduce(total = 0.0, x IN paths | total + x.path_score) AS score
UNWIND paths AS x
WITH as_of, candidates, rank, cut, paths, score, x.seed AS seed, max(x.via_seed) AS via_seed
ORDER BY via_seed DESC, seed
WITH as_of, candidates, rank, cut, paths, score, collect(CASE WHEN via_seed > 0 THEN seed END)[..3] AS evidence
UNWIND paths AS x
RETURN x.seed AS seed, x.co_user AS co_user, round(x.w0, 4) AS decayed_seed_weight,
       x.w2 AS co_user_weight, x.seed_degree AS seed_degree, x.item_degree AS item_degree,
       round(x.path_score, 6) AS path_score, round(score, 6) AS score, evidence, rank, candidates, cut,
       rank <= cut AS in_cut, as_of, datetime({epochMillis: as_of}) AS as_of_time, x.p AS path
ORDER BY path_score DESC, seed, co_user;
