"""One settings object for every entry point (CLI, API, trainer).

Settings are read from ``GRAPHREC_*`` environment variables and an optional ``.env`` file when an
entry point starts, never at import time, so tests and embedding applications can build their own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from graphrec.user_tokens import secret_problem

DEFAULT_DATA_DIR = Path(".graphrec")

StoreKind = Literal["embedded", "falkordb", "neo4j"]
NEO4J_SCHEMES: tuple[str, ...] = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
FALKORDB_SCHEMES: tuple[str, ...] = ("falkor", "falkors")
KafkaSecurityProtocol = Literal["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where the graph store is, as ``GRAPHREC_GRAPH_URI`` names it.

    ``embedded`` (optionally ``embedded:DIR``): graphrec's own FalkorDB server, ``path`` its data
    directory when the URI names one. ``falkor://`` / ``falkors://`` (TLS): a FalkorDB server.
    ``bolt://``, ``neo4j://`` and their ``+s`` / ``+ssc`` forms: Neo4j, whose driver reads the URI itself.
    """

    kind: StoreKind
    uri: str
    host: str | None = None
    port: int | None = None
    password: str | None = None
    tls: bool = False
    path: Path | None = None


def parse_graph_uri(uri: str) -> StoreLocation:
    """The one reading of a graph store URI; ``ValueError`` names the accepted forms."""
    if uri == "embedded" or uri.startswith("embedded:"):
        rest = uri.removeprefix("embedded").removeprefix(":")
        return StoreLocation("embedded", uri, path=Path(rest) if rest else None)
    scheme, sep, _ = uri.partition("://")
    if sep and scheme in FALKORDB_SCHEMES:
        parsed = urlparse(uri)
        return StoreLocation(
            "falkordb",
            uri,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 6379,
            password=parsed.password,
            tls=scheme == "falkors",
        )
    if sep and scheme in NEO4J_SCHEMES:
        return StoreLocation("neo4j", uri)
    forms = ", ".join(["embedded[:DIR]", *(f"{s}://" for s in (*FALKORDB_SCHEMES, *NEO4J_SCHEMES))])
    raise ValueError(f"unsupported graph URI {uri!r}; expected one of {forms}")


@dataclass(frozen=True, slots=True)
class EventStreamLocation:
    """Where accepted events go when they go through Apache Kafka (``GRAPHREC_EVENT_STREAM``).

    ``bootstrap``: the ``host:port[,host:port...]`` librdkafka starts from; ``topic``: the events topic
    (its dead letters go to ``<topic>.dlq``).
    """

    bootstrap: str
    topic: str

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}.dlq"


# Kafka's own rule for topic names (legal characters, at most 249 of them)
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def parse_event_stream(uri: str) -> EventStreamLocation:
    """The one reading of ``kafka://host:port[,host:port...]/topic``; ``ValueError`` says what is wrong."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme != "kafka":
        raise ValueError(f"unsupported event stream {uri!r}; expected kafka://host:port/topic")
    hosts, slash, topic = rest.partition("/")
    if not slash or not _TOPIC.match(topic) or topic in (".", ".."):
        raise ValueError(f"event stream {uri!r} names no valid topic (kafka://host:port/topic; letters, digits, . _ -)")
    servers = hosts.split(",")
    for server in servers:
        host, colon, port = server.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"event stream {uri!r}: {server!r} is not host:port")
    return EventStreamLocation(bootstrap=hosts, topic=topic)


def _cursor_key(secret: SecretStr | None) -> bytes | None:
    if secret is None or not secret.get_secret_value():
        return None
    return hashlib.sha256(b"graphrec-cursor\0" + secret.get_secret_value().encode()).digest()


def publishable_origins_problem(settings: Settings) -> str | None:
    """Why ``settings`` may not start, as to publishable keys and their origins, or None.

    Why: a publishable key ships in every page, so anyone can copy it; the origin check is what keeps
    other sites' pages from using it. With no origins configured that check allowed every origin, so
    a forgotten setting silently meant "any site": now it must be said, as ``*`` if that is meant.
    Checked by the settings' validator and again by the app at start-up (settings built with
    ``model_copy`` skip validators)."""
    if settings.publishable_key_set and not settings.publishable_origin_list:
        return (
            "GRAPHREC_PUBLISHABLE_KEYS is set but GRAPHREC_PUBLISHABLE_ORIGINS is empty: name the origins "
            "whose pages may use the publishable key (e.g. https://shop.example.com), or '*' to allow any "
            "site explicitly"
        )
    return None


class Settings(BaseSettings):
    """Process-wide configuration; create one instance per process (CLI command or API lifespan)."""

    model_config = SettingsConfigDict(env_prefix="GRAPHREC_", env_file=".env", extra="ignore")

    environment: str = Field("local", description="local | staging | production")
    graph_uri: str = Field(
        "embedded",
        description="embedded[:DIR] | falkor://host:port | bolt://, neo4j://, neo4j+s:// URIs",
    )
    graph_user: str = "neo4j"
    graph_password: SecretStr | None = None
    graph_database: str = Field("neo4j", description="Neo4j database name")
    neo4j_local_password: SecretStr | None = Field(
        None,
        description="password of the local Neo4j `graphrec neo4j start` runs (8+ characters); unset: the one "
        "stored in DATA_DIR/neo4j/password, else one generated and shown once",
    )
    falkordb_graph: str = Field("graphrec", description="FalkorDB graph key (embedded or falkor://)")
    data_dir: Path = DEFAULT_DATA_DIR
    batch_size: int = Field(10_000, ge=100, le=200_000, description="rows per UNWIND batch")
    model_dir: Path | None = Field(None, description="where model versions live (default DATA_DIR/models)")
    event_log: Path | None = Field(
        None,
        description="the event log, a SQLite file every accepted event is "
        "appended to with its session, device and page section (default "
        "DATA_DIR/events.sqlite); several API hosts need it on shared storage",
    )
    api_keys: str = Field("", description="comma-separated SECRET API keys (server to server: every route)")
    publishable_keys: str = Field(
        "",
        description="comma-separated PUBLISHABLE keys (pk_...), safe to ship in a web page: event ingest, "
        "identify, opt-out and recommendation reads only, naming a user_id only with that user's token; in X-API-Key "
        "or ?key= (sendBeacon cannot set headers)",
    )
    publishable_origins: str = Field(
        "",
        description="comma-separated origins whose pages may use a publishable key ('*': any, explicitly); "
        "required with GRAPHREC_PUBLISHABLE_KEYS; a request with a publishable key and another Origin header "
        "answers 403",
    )
    user_token_secret: SecretStr | None = Field(
        None,
        description="secret the site's backend signs user tokens with (HMAC-SHA256, 32+ characters; see "
        "graphrec.user_tokens): a request with a publishable key that names a user_id must carry that user's "
        "token (X-User-Token, or ?user_token= for sendBeacon); unset: publishable keys may not name users",
    )
    half_life_days: float = Field(30.0, gt=0, description="recency decay half-life for weights")
    # -- behaviour analytics over the event log (issue 16; see README "Segments") --
    segment_window_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="days of the event log `graphrec segment` clusters users on (ending at "
        "the newest logged event unless --as-of says otherwise)",
    )
    segment_refresh_s: float = Field(
        30.0,
        gt=0,
        description="how often the API checks the store for a new segmentation (one small read; "
        "the members are reloaded only when it changed)",
    )
    next_action_window_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="days of sessions (ending at the newest logged event) the API's next-category model is fitted on",
    )
    next_action_refresh_s: float = Field(
        600.0, gt=0, description="how often the API refits its next-category model from the event log"
    )
    next_action_smoothing: float = Field(
        1.0,
        ge=0,
        description="pseudo-transitions toward the global category popularity added to every row of "
        "the next-category model (0: none; an unseen category then answers the popularity itself)",
    )
    # -- behaviour events (issue 3; see docs/events.md) --
    events_policy_path: Path | None = Field(
        None, description="weighting policy TOML overriding the packaged graphrec/events/policy.toml"
    )
    events_max_batch: int = Field(1_000, ge=1, le=100_000, description="most events in one POST /v1/events")
    events_max_body_bytes: int = Field(
        2_000_000, ge=1_024, description="largest accepted POST /v1/events body (413 above)"
    )
    events_clock_skew_s: float = Field(
        300.0, ge=0, description="how far in the future an event timestamp may lie (client clock skew)"
    )
    events_burst_window_ms: int = Field(
        1_000, ge=0, description="identical events (actor, item, type, value) closer than this count once"
    )
    # the bot guard (graphrec.events.cleaning.BotLimits; docs/events.md, "Bot guard"): sliding windows
    # of event time, per actor, over the events each process has seen
    events_max_per_minute: int = Field(
        600, ge=1, description="events one actor may send within any 60 s (sliding) before being flagged as a bot"
    )
    events_max_views_per_minute: int = Field(
        120, ge=1, description="view events one actor may send within any 60 s (sliding) before being flagged"
    )
    events_max_repeats: int = Field(
        20,
        ge=1,
        description="events of one type on one item one actor may send within GRAPHREC_EVENTS_REPEAT_WINDOW_S "
        "before being flagged (dwell and scroll heartbeats excepted)",
    )
    events_repeat_window_s: float = Field(
        600.0, ge=1, le=86_400, description="the sliding window of GRAPHREC_EVENTS_MAX_REPEATS, in seconds"
    )
    event_id_retention_days: float = Field(
        30.0, gt=0, description="how long seen event ids are kept for duplicate detection"
    )
    rate_limit_per_s: float = Field(50.0, gt=0, description="sustained requests/s per API key (per worker process)")
    rate_limit_burst: int = Field(
        100, ge=1, description="request burst per API key (token bucket size, per worker process)"
    )
    api_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="API worker processes run by `graphrec serve` (each has its own GIL, "
        "model copy, rate limits and bot guard; 2 per 2 cores doubles event ingestion)",
    )
    log_level: str = Field("info", pattern="^(debug|info|warning|error)$", description="API log level")
    # -- recommendation API (issue 5; see docs/api.md) --
    demo_storefront: bool = Field(
        True,
        description="serve the demo storefront at /demo (a shop over this API's catalogue with the browser "
        "tracker and the first publishable key; switch it off where the API is not a demo)",
    )
    cors_origins: str = Field("", description="comma-separated origins allowed by CORS ('*' for any)")
    model_poll_s: float = Field(
        3.0,
        gt=0,
        description="how often the API checks which model version is current (the store's "
        "record, written by `graphrec publish`) and runs due background refreshes",
    )
    blend_default_alpha: float = Field(
        0.5, ge=0, le=1, description="embedding weight of the blend when no tuned blend.json exists"
    )
    candidates_per_source: int = Field(100, ge=10, le=2_000, description="ANN / traversal candidates per request")
    popular_window_days: float = Field(30.0, gt=0, description="events older than this do not count as trending")
    popular_ttl_s: float = Field(60.0, gt=0, description="how long the popular-items cache is served before refresh")
    shared_max_age_s: int = Field(
        30,
        ge=0,
        le=86_400,
        description="how long a shared cache (a CDN) may keep a shared answer (trending, similar items, "
        "the catalogue) before asking again with If-None-Match (s-maxage); browsers always ask again "
        "(max-age=0), so this bounds how long a CDN may show an item made unavailable; 0: it asks every time",
    )
    # Why 3: a household or an office behind one address seldom has more than a few people on the same
    # item within a window, while a script behind one address can invent any number of anonymous ids
    # (the attack of issue 25 sent 200 from one request); past the cap they count for nothing. A secret
    # key (a shop's backend relaying many users from one address) is not capped: see README "Trending".
    popular_actors_per_client: int = Field(
        3,
        ge=1,
        description="at most this many actors per client (address + publishable key) count towards "
        "an item's trending score within the window; secret-key and imported events count per actor",
    )
    traversal_seed_items: int = Field(20, ge=1, le=500, description="a user's most recent items that seed traversals")
    traversal_fanout: int = Field(50, ge=1, le=5_000, description="neighbours kept per hop (strongest first)")
    served_flush_s: float = Field(
        0.5,
        gt=0,
        le=1.0,
        description="how often the API writes the served lists it queued (the feedback "
        "log's analytics) to the event log file; an impression or report writes them at once",
    )
    blocking_threads: int = Field(
        4,
        ge=1,
        le=64,
        description="threads running requests' blocking store reads (recommendation math runs on the event loop)",
    )
    cograph_co_items: int = Field(
        400, ge=10, le=100_000, description="co-items kept per item in the in-memory traversal index"
    )
    cograph_refresh_s: float = Field(
        300.0, gt=0, description="how often the API rebuilds its in-memory co-interaction index"
    )
    bought_together_neighbours: int = Field(
        100,
        ge=1,
        le=10_000,
        description="items kept per item in the frequently-bought-together index (most shoppers first); "
        "rebuilt with the co-interaction index",
    )
    refresh_retry_s: float = Field(
        5.0,
        gt=0,
        description="first wait before retrying a failed background refresh (trending items, "
        "co-interaction index, model load); doubles with every failure in a row",
    )
    refresh_retry_max_s: float = Field(
        300.0, gt=0, description="longest wait between retries of a failed background refresh"
    )
    # -- failure and overload behaviour of the API (issue 14; see docs/api.md) --
    store_timeout_s: float = Field(
        10.0,
        gt=0,
        description="longest one store command of the API may take before it counts as "
        "unavailable (503); CLI jobs wait as long as they need",
    )
    store_connect_timeout_s: float = Field(3.0, gt=0, description="longest a store connection may take to open")
    store_retry_s: float = Field(
        1.0,
        ge=0,
        description="how long the Neo4j driver retries a failed transaction in the API "
        "(the driver's own default, 30 s, held requests that long during an outage)",
    )
    store_job_retry_s: float = Field(
        30.0,
        ge=0,
        description="how long the Neo4j driver retries a failed transaction in a CLI job (import, export, "
        "training, stats): long enough to ride out a store restart, then the job fails with one line",
    )
    embedded_start_s: float = Field(
        60.0,
        gt=0,
        description="how long the embedded FalkorDB server may take to answer when it starts or "
        "restarts with no data to load; the data adds GRAPHREC_EMBEDDED_REPLAY_S_PER_MB",
    )
    embedded_replay_s_per_mb: float = Field(
        120.0,
        ge=0,
        description="more start time for the embedded server per MB of append-only file it "
        "replays (measured about 23 s/MB on a quiet 2-core machine; an RDB MB counts as 1/100)",
    )
    store_check_s: float = Field(
        1.0, gt=0, description="how often the API checks an unavailable store (and restarts a dead embedded server)"
    )
    history_timeout_s: float = Field(
        0.5,
        gt=0,
        description="how long a recommendation waits for the user's history before "
        "answering degraded (three such timeouts in a row count as a store outage)",
    )
    retry_after_s: int = Field(2, ge=1, description="Retry-After of 503 answers while the store is down")
    max_write_concurrency: int = Field(
        16,
        ge=1,
        le=10_000,
        description="writes (every method but GET/HEAD/OPTIONS) one worker serves at once, "
        "beside GRAPHREC_MAX_CONCURRENCY reads: writes stuck on a slow store never take the reads' slots",
    )
    request_deadline_s: float = Field(
        10.0,
        gt=0,
        description="longest a request is served before it is answered 503 with Retry-After (a write "
        "is then not acknowledged; a retried event batch is applied once); also marks the store as suspect",
    )
    max_body_bytes: int = Field(
        65_536,
        ge=1_024,
        description="largest request body of routes other than POST /v1/events and PUT /v1/items "
        "(413 above; checked before the body is read)",
    )
    catalogue_max_body_bytes: int = Field(
        4_000_000, ge=1_024, description="largest PUT /v1/items body (up to 1,000 items)"
    )
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        description="longest a request body may take to arrive, from the end of its headers (408 "
        "after it; a slow body never holds a request slot)",
    )
    gil_switch_ms: float = Field(
        0.5,
        gt=0,
        le=5.0,
        description="the interpreter's thread switch interval in an API worker (Python's default is 5 ms): "
        "how long the request loop may wait for a background refresh's thread to let go of the GIL each "
        "time it does I/O",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="longest a connection may take to send a request's headers, from its first "
        "byte or from the connection's opening (the connection is closed after it)",
    )
    max_concurrency: int = Field(
        16,
        ge=1,
        le=10_000,
        description="requests one worker serves at once; more get an immediate 503 "
        "(latency of the accepted ones stays near this many times one request's service time)",
    )
    ip_rate_limit_per_s: float = Field(
        20.0, gt=0, description="sustained requests/s per client address on routes open without a key"
    )
    ip_rate_limit_burst: int = Field(40, ge=1, description="request burst per client address without a key")
    # -- catalogue (issue 15, point 5; see README "Catalogue") --
    unknown_items: Literal["accept", "flag", "reject"] = Field(
        "accept",
        description="events naming an item no catalogue described: accept (the item is created, "
        "provisional), flag (accepted, and listed in the response's unknown_items) or reject (422 for the "
        "whole batch, nothing written)",
    )
    cursor_secret: SecretStr | None = Field(
        None,
        description="key signing the API's pagination cursors (every worker, host and restart must share "
        "it); unset: one generated once and kept in DATA_DIR/cursor.secret (0600), shared by the workers of a "
        "host; set it when several hosts serve one API",
    )
    cursor_secret_previous: SecretStr | None = Field(
        None, description="the cursor secret before a rotation: cursors it signed stay valid while it is set"
    )
    erasure_secret: SecretStr | None = Field(
        None,
        description="key of the erasure tombstones' HMAC (a tombstone keeps a keyed hash of an erased id, "
        "never the id; every worker must share it, and rotating it forgets the tombstones); unset: derived "
        "from GRAPHREC_API_KEYS",
    )
    erasure_compact_timeout_s: float = Field(
        20.0,
        gt=0,
        description="how long DELETE /v1/users/{id} waits for the embedded store's append-only "
        "file to be rewritten without the erased user (the erasure itself is done before)",
    )
    auth_failures_per_minute: float = Field(
        10.0,
        gt=0,
        description="failed API-key attempts one client address may make per minute "
        "(burst of the same size) before 429",
    )

    webhook_url: str = Field(
        "",
        description="where trigger webhooks are POSTed (http/https; empty: triggers off); see GRAPHREC_TRIGGER_RULES",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="shared secret signing every webhook "
        "(X-Graphrec-Signature, HMAC-SHA256); required with a webhook URL",
    )
    trigger_rules: str = Field(
        '[{"name": "purchase_intent", "feature": "purchase_intent", "above": 0.7}]',
        description="JSON list of {name, feature, above|below} on numeric profile features; a rule fires once "
        "when a user crosses it (again only after falling back)",
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="deliveries tried before a webhook is given up (kept in the outbox, marked dead)"
    )
    webhook_retry_s: float = Field(1.0, gt=0, description="first retry delay; doubles per attempt")
    webhook_retry_max_s: float = Field(300.0, gt=0, description="longest retry delay")

    # -- events through Apache Kafka (issue 27; see README "Scale-out path") --
    event_stream: str = Field(
        "",
        description="kafka://host:port[,host:port]/topic: POST /v1/events validates a batch, produces it to "
        "this topic and answers 202 once the broker acknowledged every event; `graphrec consume` applies "
        "them to the store. Empty (the default): events are written to the store by the API itself",
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "plaintext", description="librdkafka security.protocol: plaintext | ssl | sasl_plaintext | sasl_ssl"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        "SCRAM-SHA-512", description="librdkafka sasl.mechanism (with sasl_plaintext or sasl_ssl)"
    )
    kafka_sasl_username: str = Field("", description="SASL user name (required with sasl_*)")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (required with sasl_*)")
    kafka_ssl_ca_location: Path | None = Field(
        None, description="PEM file of the CA the brokers' certificates are checked against (ssl, sasl_ssl)"
    )
    kafka_ssl_certificate_location: Path | None = Field(
        None, description="client certificate (PEM) for mutual TLS (with GRAPHREC_KAFKA_SSL_KEY_LOCATION)"
    )
    kafka_ssl_key_location: Path | None = Field(None, description="client private key (PEM) for mutual TLS")
    kafka_consumer_group: str = Field(
        "graphrec-consume",
        min_length=1,
        max_length=249,
        description="consumer group of `graphrec consume` (consumers of one group share the partitions)",
    )
    kafka_session_timeout_s: float = Field(
        45.0,
        ge=1,
        le=3600,
        description="how long the consumer group waits for a `graphrec consume` that stopped heartbeating (killed, "
        "its machine gone) before its partitions move to another member (librdkafka's session.timeout.ms; "
        "the broker bounds it, 6 s to 30 min by default): shorter takes over sooner after a crash, at the cost "
        "of a rebalance whenever a member stalls that long",
    )
    kafka_produce_timeout_s: float = Field(
        5.0,
        gt=0,
        description="longest POST /v1/events waits for the broker to acknowledge a batch before it answers "
        "503 with Retry-After (the client retries; a retried event is applied once)",
    )

    @field_validator("event_stream")
    @classmethod
    def _kafka_uri(cls, value: str) -> str:
        if value:
            parse_event_stream(value)
        return value

    @model_validator(mode="after")
    def _kafka_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("sasl_") and (
            not self.kafka_sasl_username
            or self.kafka_sasl_password is None
            or not self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                "GRAPHREC_KAFKA_SASL_USERNAME and GRAPHREC_KAFKA_SASL_PASSWORD must be set with "
                f"GRAPHREC_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
            )
        if (self.kafka_ssl_certificate_location is None) != (self.kafka_ssl_key_location is None):
            raise ValueError("GRAPHREC_KAFKA_SSL_CERTIFICATE_LOCATION and GRAPHREC_KAFKA_SSL_KEY_LOCATION go together")
        return self

    @property
    def event_stream_location(self) -> EventStreamLocation | None:
        """The Kafka topic accepted events go through, or None (the embedded default: the API writes)."""
        return parse_event_stream(self.event_stream) if self.event_stream else None

    def kafka_client_config(self) -> dict[str, str | int | float | bool]:
        """The librdkafka settings every graphrec Kafka client shares: the brokers, TLS and SASL."""
        location = self.event_stream_location
        if location is None:
            raise ValueError("GRAPHREC_EVENT_STREAM is not set")
        config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": location.bootstrap,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("sasl_"):
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
            config["sasl.username"] = self.kafka_sasl_username
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""
        for key, path in (
            ("ssl.ca.location", self.kafka_ssl_ca_location),
            ("ssl.certificate.location", self.kafka_ssl_certificate_location),
            ("ssl.key.location", self.kafka_ssl_key_location),
        ):
            if path is not None:
                config[key] = str(path)
        return config

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("GRAPHREC_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> Settings:
        if self.webhook_url and (self.webhook_secret is None or len(self.webhook_secret.get_secret_value()) < 16):
            raise ValueError("GRAPHREC_WEBHOOK_SECRET (16+ characters) must be set with GRAPHREC_WEBHOOK_URL")
        return self

    @property
    def triggers_on(self) -> bool:
        """Trigger webhooks are configured (a URL; the validator above requires its secret): the API runs its
        trigger worker, and ``graphrec consume`` marks the users whose events it applied for it."""
        return bool(self.webhook_url) and self.webhook_secret is not None

    @field_validator("user_token_secret")
    @classmethod
    def _strong_user_token_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None  # GRAPHREC_USER_TOKEN_SECRET= (empty) reads as unset
        if value is not None:
            problem = secret_problem(value.get_secret_value())
            if problem is not None:
                raise ValueError(f"GRAPHREC_USER_TOKEN_SECRET {problem}")
        return value

    @field_validator("graph_uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        parse_graph_uri(value)
        return value

    @model_validator(mode="after")
    def _no_default_secrets_outside_local(self) -> Settings:
        if self.environment != "local" and self.graph_location.kind == "neo4j":
            if self.graph_password is None or self.graph_password.get_secret_value() in ("", "neo4j", "password"):
                raise ValueError("GRAPHREC_GRAPH_PASSWORD must be set to a non-default value outside local use")
        return self

    @model_validator(mode="after")
    def _publishable_keys_name_their_origins(self) -> Settings:
        problem = publishable_origins_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _retry_cap_above_first_wait(self) -> Settings:
        if self.refresh_retry_max_s < self.refresh_retry_s:
            raise ValueError("GRAPHREC_REFRESH_RETRY_MAX_S must be at least GRAPHREC_REFRESH_RETRY_S")
        return self

    @property
    def models_path(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"

    @property
    def snapshots_path(self) -> Path:
        """Where ``graphrec export`` writes snapshots by default (one directory each; erasure edits them)."""
        return self.data_dir / "snapshots"

    @property
    def event_log_file(self) -> Path:
        """The SQLite event log (``GRAPHREC_EVENT_LOG``, default ``DATA_DIR/events.sqlite``)."""
        return self.event_log if self.event_log is not None else self.data_dir / "events.sqlite"

    @property
    def graph_location(self) -> StoreLocation:
        return parse_graph_uri(self.graph_uri)

    @property
    def embedded_dir(self) -> Path:
        """Data directory of the embedded store: ``embedded:DIR`` wins over ``data_dir``."""
        return self.graph_location.path or self.data_dir / "store"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def publishable_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.publishable_keys.split(",") if k.strip())

    @property
    def cursor_key(self) -> bytes:
        """The key pagination cursors are signed with, from ``cursor_secret``; the API fills that in
        at start-up from ``DATA_DIR/cursor.secret`` when unset (``api.cursors.with_cursor_secret``).

        Why not derived from the API keys any more: adding or rotating a key then changed it and
        invalidated every outstanding cursor. Without a secret (settings outside the API) a fixed
        local key."""
        return _cursor_key(self.cursor_secret) or _cursor_key(SecretStr("graphrec-local")) or b""

    @property
    def cursor_previous_keys(self) -> tuple[bytes, ...]:
        """Keys whose cursors are still accepted (``cursor_secret_previous``: a rotation in progress)."""
        previous = _cursor_key(self.cursor_secret_previous)
        return (previous,) if previous is not None else ()

    @property
    def erasure_key(self) -> bytes:
        """The key erasure tombstones are hashed with: ``erasure_secret``, else one derived from the secret
        API keys (as :attr:`cursor_key`, under another label), else (local use without keys) a fixed key."""
        if self.erasure_secret is not None and self.erasure_secret.get_secret_value():
            secret = self.erasure_secret.get_secret_value()
        else:
            secret = "\n".join(sorted(self.api_key_set)) or "graphrec-local"
        return hashlib.sha256(b"graphrec-erasure\0" + secret.encode()).digest()

    @property
    def client_key(self) -> bytes:
        """The key client ids are hashed with (``graphrec.events.clients``): derived from :attr:`cursor_key`
        (one deployment secret, shared by every worker and restart, so one client keeps one id), in its
        own domain so neither key tells anything about the other."""
        return hashlib.sha256(b"graphrec-client\0" + self.cursor_key).digest()

    @property
    def publishable_origin_list(self) -> list[str]:
        return [o.strip() for o in self.publishable_origins.split(",") if o.strip()]

    @field_validator("publishable_keys")
    @classmethod
    def _publishable_prefix(cls, value: str) -> str:
        bad = [k.strip() for k in value.split(",") if k.strip() and not k.strip().startswith("pk_")]
        if bad:
            raise ValueError("publishable keys start with 'pk_' (so a secret key is never mistaken for one)")
        return value
