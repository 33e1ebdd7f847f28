:param min_events => 100;
:param max_per_minute => 600.0;
:param max_events_per_item => 50.0;
:param limit => 25;

// Heaviest users and possible bots: events per user (sum of INTERACTED.count), distinct items,
// the active span (first to last interaction) and the rate over that span. `suspicious` when the
// rate exceeds $max_per_minute (GRAPHREC_EVENTS_MAX_PER_MINUTE, default 600: the ingest pipeline's
// own bot threshold) or when it hammers the same items (more than $max_events_per_item events per
// distinct item). Users with fewer than $min_events events are skipped. A sustained rate over a
// long span is a heavy user; a high rate over a short span is the bot pattern. At most $limit rows,
// fastest first.
// `first_ts`/`last_ts` are epoch ms, `first_seen`/`last_seen` the same as UTC datetimes (computed here).
// Not time-relative: no as_of. Reads every INTERACTED relationship: minutes on a very large graph, run
// it off-peak. FalkorDB form: falkordb/07-heavy-users-and-bots.cypher.
MATCH (u:User)-[e:INTERACTED]->(:Item)
WITH u, sum(e.count) AS events, count(e) AS items, min(e.first_ts) AS first_ts, max(e.last_ts) AS last_ts
WHERE events >= $min_events
WITH u, events, items, first_ts, last_ts, (last_ts - first_ts) / 60000.0 AS span_minutes
WITH u, events, items, first_ts, last_ts, span_minutes,
     toFloat(events) / CASE WHEN span_minutes < 1.0 THEN 1.0 ELSE span_minutes END AS per_minute
RETURN u.id AS user, events, items, round(toFloat(events) / items, 2) AS events_per_item,
       first_ts, last_ts, datetime({epochMillis: first_ts}) AS first_seen, datetime({epochMillis: last_ts}) AS last_seen,
       round(span_minutes / 1440.0, 2) AS active_days, round(per_minute, 3) AS events_per_minute,
       per_minute > $max_per_minute OR toFloat(events) / items > $max_events_per_item AS suspicious
ORDER BY events_per_minute DESC, events DESC, user
LIMIT $limit;
