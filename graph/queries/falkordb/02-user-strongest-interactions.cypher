:param user => 'u1';
:param as_of => null;
:param half_life_days => 30.0;
:param limit => 20;

// FalkorDB form of ../02-user-strongest-interactions.cypher (graphrec cypher -f on the embedded store):
// the same rows and parameters. FalkorDB has no datetime({epochMillis}); `last_seen` and `as_of_time`
// are localdatetime values built as 1970-01-01 + duration({days, seconds}): UTC, whole seconds (the
// milliseconds are in `last_ts` and `as_of`). Nothing is stored: both stores compute them when read.
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
       localdatetime({year: 1970}) + duration({days: e.last_ts / 86400000, seconds: (e.last_ts % 86400000) / 1000}) AS last_seen, as_of,
       localdatetime({year: 1970}) + duration({days: as_of / 86400000, seconds: (as_of % 86400000) / 1000}) AS as_of_time,
       properties(e) AS edge, p
ORDER BY decayed_weight DESC, item
LIMIT $limit;
