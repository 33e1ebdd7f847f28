:param user => 'u1';
:param as_of => null;
:param half_life_days => 30.0;
:param limit => 20;

// A user's strongest interactions, by decayed weight: weight * 0.5 ^ (age / half-life), the decay the
// API applies to the user's history (graphrec.clock.decayed_weight, GRAPHREC_HALF_LIFE_DAYS, default 30).
//   user            the user's id
//   as_of           epoch ms the age is measured from; null (default) = the user's newest edge
//                   (INTERACTED.last_ts), graphrec's decay reference (graphrec.clock.decay_reference:
//                   the newest event that takes part, never the wall clock; on 1997 data every weight
//                   measured from today would be 0). An edge newer than as_of is not decayed; a
//                   non-zero weight stops at the smallest normal float32 (1.18e-38), as in graphrec.
//   half_life_days  the half-life, in days
//   limit           how many rows
// `weight` is the undecayed policy weight; `rating` the stars of the user's rating events on the item
// (s_rating / n_rating: their mean if rated more than once; null = never rated); `last_ts` the last
// interaction in epoch ms and `last_seen` the same as a UTC datetime (computed here, not stored);
// `edge` holds the per-event-type counts and value sums (n_<type>, s_<type>) behind the weight.
// Switch to the Graph view to see the star. FalkorDB form: falkordb/02-user-strongest-interactions.cypher.
MATCH (u:User {id: $user})-[x:INTERACTED]->(:Item)
WITH u, max(x.last_ts) AS newest
WITH u, coalesce($as_of, newest) AS as_of
MATCH p = (u)-[e:INTERACTED]->(i:Item)
WITH p, i, e, as_of,
     e.weight * 0.5 ^ (toFloat(CASE WHEN as_of > e.last_ts THEN as_of - e.last_ts ELSE 0 END)
                       / ($half_life_days * 86400000.0)) AS decayed
WITH p, i, e, as_of,
     CASE WHEN e.weight = 0 THEN 0.0
          WHEN abs(decayed) < 1.1754943508222875e-38 THEN sign(e.weight) * 1.1754943508222875e-38
          ELSE decayed END AS decayed_weight
RETURN i.id AS item, i.title AS title, decayed_weight, e.weight AS weight,
       e.s_rating / e.n_rating AS rating, e.count AS events, e.last_ts AS last_ts,
       datetime({epochMillis: e.last_ts}) AS last_seen, as_of, datetime({epochMillis: as_of}) AS as_of_time,
       properties(e) AS edge, p
ORDER BY decayed_weight DESC, item
LIMIT $limit;
