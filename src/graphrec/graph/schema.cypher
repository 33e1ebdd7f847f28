// graphrec graph schema for Neo4j 5.23+ / 2025.x (Community or Enterprise).
//
// Graph model:
//   (:User {id, degree, embedding, model_version, ...})
//     -[:INTERACTED {weight, count, first_ts, last_ts, n_<type>, s_<type>}]->
//   (:Item {id, title, degree, embedding, model_version, ...})-[:IN_CATEGORY]->(:Category {name})
//   (:Ledger {key, next_seq, complete, rows})   import bookkeeping (exactly-once batches)
//   (:Meta {key, value})                        small settings, e.g. the published model version
//   (:EventId {key, user, at})                  ids of ingested events (duplicate detection)
//   (:User)-[:IN_SEGMENT {computed_ms}]->(:Segment {name, size, centroid, features, rule, computed_ms})
//                                               behavioural segments (`graphrec segment`)
//
// How to apply: paste this whole file into Neo4j Browser (with "Enable multi statement query
// editor" on) or run `cypher-shell -f graph/schema.cypher`; graphrec runs the same statements
// itself when it applies the schema (Neo4jStore.apply_schema). Every statement is IF NOT EXISTS,
// so running it again is harmless. Statements end with `;`. Check the result with `SHOW CONSTRAINTS` and
// `SHOW INDEXES` (vector indexes are usable once their state is ONLINE).

// --- Uniqueness constraints -------------------------------------------------------------------
// Each also creates a range index on the key, which makes `MATCH (u:User {id: $id})` an index
// seek, and lets MERGE on the key be safe under concurrent writers (no duplicate nodes).

// One node per user id (ids come from your event source, as strings).
CREATE CONSTRAINT user_id IF NOT EXISTS
FOR (u:User) REQUIRE u.id IS UNIQUE;

// One node per item id.
CREATE CONSTRAINT item_id IF NOT EXISTS
FOR (i:Item) REQUIRE i.id IS UNIQUE;

// One node per category name (items link to categories with IN_CATEGORY).
CREATE CONSTRAINT category_name IF NOT EXISTS
FOR (c:Category) REQUIRE c.name IS UNIQUE;

// One ledger per import input (key = source fingerprint); holds the next batch number it expects.
CREATE CONSTRAINT ledger_key IF NOT EXISTS
FOR (l:Ledger) REQUIRE l.key IS UNIQUE;

// One Meta node per setting key.
CREATE CONSTRAINT meta_key IF NOT EXISTS
FOR (m:Meta) REQUIRE m.key IS UNIQUE;

// One node per behavioural segment name: a segmentation upserts its segments by name (MERGE), and a
// concurrent writer cannot create two.
CREATE CONSTRAINT segment_name IF NOT EXISTS
FOR (s:Segment) REQUIRE s.name IS UNIQUE;

// One record per ingested event key: a replayed event is recognised and not counted twice, and
// two writers racing on the same event cannot both record it.
CREATE CONSTRAINT event_id_key IF NOT EXISTS
FOR (x:EventId) REQUIRE x.key IS UNIQUE;

// --- Node indexes ---------------------------------------------------------------------------------
// Event records are looked up by owner (erasure, identity merge) and by age (retention expiry).
CREATE INDEX event_id_user IF NOT EXISTS
FOR (x:EventId) ON (x.user);

CREATE INDEX event_id_at IF NOT EXISTS
FOR (x:EventId) ON (x.at);

// --- Relationship index -------------------------------------------------------------------------
// Range index on the time of the latest interaction: incremental exports (`since`) and
// "what happened in the last day" queries filter on it, e.g.
//   MATCH (u:User)-[e:INTERACTED]->(i:Item) WHERE e.last_ts >= $since RETURN count(e)
CREATE INDEX interacted_last_ts IF NOT EXISTS
FOR ()-[e:INTERACTED]-() ON (e.last_ts);

// --- Vector indexes -----------------------------------------------------------------------------
// Cosine vector indexes over the GraphSAGE embeddings, so analysts can ask "items like this one":
//   MATCH (i:Item {id: 'i42'})
//   CALL db.index.vector.queryNodes('item_embedding', 10, i.embedding) YIELD node, score
//   RETURN node.id, node.title, score
// (Neo4j reports cosine scores as (1 + cosine) / 2, in [0, 1].) Quantization is off: Neo4j 5.23+
// quantizes vectors by default, which reorders close neighbours. Unquantized, the scores are the API's
// cosines over the same float32 vectors, but the index is HNSW, an approximate search: it can miss true
// neighbours when asked for exactly k, so ask for more (the saved queries ask for k * 4 + 10) and keep k.
// The dimension 64 is the default model width (GraphSAGE hidden size). When a model of another width
// are written, graphrec drops and re-creates these indexes with the new dimension, so the live
// index may differ from 64: `SHOW VECTOR INDEXES` shows it.

// Item embeddings (64 floats, cosine).
CREATE VECTOR INDEX item_embedding IF NOT EXISTS
FOR (i:Item) ON i.embedding
OPTIONS {indexConfig: {`vector.dimensions`: 64, `vector.similarity_function`: 'cosine',
                        `vector.quantization.enabled`: false}};

// User embeddings (64 floats, cosine): "users like this one", user-to-item scoring.
CREATE VECTOR INDEX user_embedding IF NOT EXISTS
FOR (u:User) ON u.embedding
OPTIONS {indexConfig: {`vector.dimensions`: 64, `vector.similarity_function`: 'cosine',
                        `vector.quantization.enabled`: false}};
