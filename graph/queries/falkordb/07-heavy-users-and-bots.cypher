:param min_events => 100;
:param max_per_minute => 600.0;
:param max_events_per_item => 50.0;
:param limit => 25;

// FalkorDB form of ../07-heavy-users-and-bots.cypher: the same rows and columns, unrounded ratios, and
// `first_seen`/`last_seen` as localdatetime values (1970-01-01 + duration({days, seconds}): UTC, whole seconds;
// FalkorDB has no datetime({epochMillis})) beside the epoch ms in `first_ts`/`last_ts`.
MATCH (u:User)-[e:INTERACTED]->(:Item)
WITH u, sum(e.count) AS events, count(e) AS items, min(e.first_ts) AS first_ts, max(e.last_ts) AS last_ts
WHERE events >= $min_events
WITH u, events, items, first_ts, last_ts, (last_ts - first_ts) / 60000.0 AS span_minutes
WITH u, events, items, first_ts, last_ts, span_minutes,
     toFloat(events) / CASE WHEN span_minutes < 1.0 THEN 1.0 ELSE span_minutes END AS per_minute
RETURN u.id AS user, events, items, toFloat(events) / items AS events_per_item,
       first_ts, last_ts, localdatetime({year: 1970}) + duration({days: first_ts / 86400000, seconds: (first_ts % 86400000) / 1000}) AS first_seen,
       localdatetime({year: 1970}) + duration({days: last_ts / 86400000, seconds: (last_ts % 86400000) / 1000}) AS last_seen, span_minutes / 1440.0 AS active_days,
       per_minute AS events_per_minute,
       per_minute > $max_per_minute OR toFloat(events) / items > $max_events_per_item AS suspicious
ORDER BY events_per_minute DESC, events DESC, user
LIMIT $limit;
