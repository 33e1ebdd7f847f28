:param user => 'u1';
:param half_life_days => 30.0;
:param limit => 20;

// A user's strongest interactions, by decayed weight: weight * 0.5 ^ (age / half-life), with the
// age measured from the edge's last_ts - the same decay the API applies (GRAPHREC_HALF_LIFE_DAYS,
// default 30). `weight` is the undecayed policy weight; n_<type> / s_<type> in `edge` are the
// per-event-type counts and value sums behind it. Switch to the Graph view to see the star.
MATCH p = (u:User {id: $user})-[e:INTERACTED]->(i:Item)
WITH p, i, e, e.weight * 0.5 ^ (toFloat(timestamp() - e.last_ts) / ($half_life_days * 86400000.0)) AS decayed
RETURN i.id AS item, i.title AS title, round(decayed, 4) AS decayed_weight, e.weight AS weight,
       e.count AS events, datetime({epochMillis: e.last_ts}) AS last_seen,
       properties(e) AS edge, p
ORDER BY decayed_weight DESC, item
LIMIT $limit;
