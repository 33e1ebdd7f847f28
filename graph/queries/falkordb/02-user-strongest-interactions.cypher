:param user => 'u1';
:param half_life_days => 30.0;
:param limit => 20;

// FalkorDB form of ../02-user-strongest-interactions.cypher (graphrec cypher -f on the embedded store):
// the same rows, with `last_seen_ms` (epoch ms) for `last_seen`: FalkorDB has no datetime({epochMillis}).
MATCH p = (u:User {id: $user})-[e:INTERACTED]->(i:Item)
WITH p, i, e, e.weight * 0.5 ^ (toFloat(timestamp() - e.last_ts) / ($half_life_days * 86400000.0)) AS decayed
RETURN i.id AS item, i.title AS title, decayed AS decayed_weight, e.weight AS weight,
       e.count AS events, e.last_ts AS last_seen_ms, properties(e) AS edge, p
ORDER BY decayed_weight DESC, item
LIMIT $limit;
