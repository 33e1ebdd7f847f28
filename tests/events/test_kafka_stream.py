"""The Kafka event path end to end, on a real broker (``kafka_broker``) and the embedded FalkorDB store.

What it proves: events accepted by the API in stream mode and applied by ``graphrec consume`` (a real
subprocess) give exactly the edges the direct path gives for the same events; a consumer killed with
SIGKILL mid-stream and started again loses nothing and counts nothing twice; a message that can never
apply lands in ``<topic>.dlq`` with its reason and does not block its partition. Weights are compared
exactly: the events use types whose policy weights are sums of powers of two, so no float rounding
depends on how the stream split them into batches.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from deadlines import START_S, WAIT_S, wait_until
from fastapi.testclient import TestClient

from api.main import create_app
from factories import event
from graphrec import clock
from graphrec.config import Settings
from graphrec.events.pipeline import build_pipeline
from graphrec.events.schema import EventIn, validate_events
from graphrec.events.stream_producer import EventStreamProducer
from graphrec.events.stream_topics import ensure_topics
from graphrec.graph.falkordb_store import FalkorDBStore

REPO = Path(__file__).resolve().parents[2]
KEY = "kafka-test-key"
EXACT_TYPES = ("view", "click", "add_to_cart", "purchase", "like", "share", "dislike")

Edges = dict[tuple[str, str], tuple[float, int, int, int, tuple[tuple[str, int], ...]]]


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[Path]:
    """One embedded server for the module; each test uses graphs of its own names in it."""
    path = tmp_path_factory.mktemp("kafka-store")
    holder = FalkorDBStore.embedded(path, graph="holder", die_with_parent=True)
    yield path
    holder.close()


def _graph(store_dir: Path, name: str) -> FalkorDBStore:
    store = FalkorDBStore.embedded(store_dir, graph=name, die_with_parent=True)
    store.apply_schema()
    return store


def edges(store: FalkorDBStore) -> Edges:
    return {
        (e.user_id, e.item_id): (e.weight, e.count, e.first_ts, e.last_ts, tuple(sorted(e.type_counts.items())))
        for page in store.iter_interaction_aggregates()
        for e in page
    }


def make_events(n: int, *, seed: int, prefix: str) -> list[dict[str, object]]:
    """``n`` events of 25 users on 40 items, 1.1 s apart (no burst collapses, no bot flags)."""
    rng = random.Random(seed)
    base = clock.now_ms() - 3 * 3_600_000
    return [
        event(
            f"{prefix}-{k}",
            user_id=f"u{rng.randrange(25)}",
            item_id=f"i{rng.randrange(40)}",
            type=rng.choice(EXACT_TYPES),
            ts=base + k * 1_100,
        )
        for k in range(n)
    ]


def _settings(tmp_path: Path, store_dir: Path, graph: str, stream: str = "") -> Settings:
    return Settings(
        data_dir=tmp_path / f"data-{graph}",
        event_log=tmp_path / f"events-{graph}.sqlite",
        graph_uri=f"embedded:{store_dir}",
        falkordb_graph=graph,
        api_keys=KEY,
        rate_limit_per_s=10_000,
        rate_limit_burst=10_000,
        events_max_per_minute=10_000,
        event_stream=stream,
    )


class ConsumerProcess:
    """``graphrec consume`` in a subprocess, its log in a file; :meth:`stop` ends it (SIGTERM, then kill)."""

    def __init__(self, env: dict[str, str], log: Path, *, batch_size: int) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "graphrec", "consume", "--batch-size", str(batch_size), "--partitions", "3"],
                cwd=REPO,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_bytes()[-3000:].decode(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT_S)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=WAIT_S)


def _consumer_env(tmp_path: Path, store_dir: Path, graph: str, stream: str) -> dict[str, str]:
    return {
        "GRAPHREC_EVENT_STREAM": stream,
        "GRAPHREC_KAFKA_CONSUMER_GROUP": f"group-{graph}",
        "GRAPHREC_GRAPH_URI": f"embedded:{store_dir}",
        "GRAPHREC_FALKORDB_GRAPH": graph,
        "GRAPHREC_EVENT_LOG": str(tmp_path / f"consumer-events-{graph}.sqlite"),
        "GRAPHREC_DATA_DIR": str(tmp_path / f"consumer-data-{graph}"),
    }


def _wait_applied(store: FalkorDBStore, expected: Edges, consumers: list[ConsumerProcess]) -> None:
    def done() -> bool:
        for c in consumers:
            assert c.alive(), f"graphrec consume exited ({c.proc.returncode}); its log ends:\n{c.tail()}"
        return edges(store) == expected

    wait_until(
        done,
        what="the consumer to apply every event",
        timeout_s=START_S,  # a fresh Python process that imports graphrec, then the work
        interval_s=0.3,
        detail=lambda: (sum(v[1] for v in edges(store).values()), sum(v[1] for v in expected.values())),
    )


def _post(client: TestClient, batch: list[dict[str, object]]) -> dict[str, object]:
    response = client.post("/v1/events", json={"events": batch})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


def test_events_through_kafka_give_the_edges_of_the_direct_path(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{kafka_broker}/{topic}"
    events = make_events(300, seed=1, prefix="eq")
    batches = [events[i : i + 50] for i in range(0, len(events), 50)]
    batches.append(batches[1])  # a client's retry of an acknowledged batch: applied once on both paths

    direct = _settings(tmp_path, store_dir, "eq-direct")
    with TestClient(create_app(direct), headers={"X-API-Key": KEY}) as client:
        for batch in batches:
            assert "queued" not in _post(client, batch)  # the direct path answers as it always did

    streamed = _settings(tmp_path, store_dir, "eq-stream", stream)
    ensure_topics(streamed, partitions=3)
    with TestClient(create_app(streamed), headers={"X-API-Key": KEY}) as client:
        for batch in batches:
            body = _post(client, batch)
            assert body["queued"] == len(batch) and body["applied"] == 0

    expected = edges(_graph(store_dir, "eq-direct"))
    assert sum(v[1] for v in expected.values()) == 300
    target = _graph(store_dir, "eq-stream")
    assert edges(target) == {}  # nothing is applied before a consumer runs
    consumer = ConsumerProcess(
        _consumer_env(tmp_path, store_dir, "eq-stream", stream), tmp_path / "consumer.log", batch_size=40
    )
    try:
        _wait_applied(target, expected, [consumer])
    finally:
        consumer.stop()
    totals = json.loads(consumer.tail().strip().splitlines()[-1])
    assert totals["applied"] == 300 and totals["duplicates"] == 50 and totals["dead_letters"] == 0


def _validated(raw: list[dict[str, object]]) -> list[EventIn]:
    return validate_events(raw, now_ms=clock.now_ms(), skew_ms=300_000)


def test_a_consumer_killed_mid_stream_loses_nothing_and_counts_nothing_twice(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{kafka_broker}/{topic}"
    events = _validated(make_events(3000, seed=2, prefix="kill"))

    direct = _settings(tmp_path, store_dir, "kill-direct")
    expected_store = _graph(store_dir, "kill-direct")
    build_pipeline(expected_store, direct).ingest(events)
    expected = edges(expected_store)

    streamed = _settings(tmp_path, store_dir, "kill-stream", stream)
    ensure_topics(streamed, partitions=3)
    producer = EventStreamProducer(streamed)
    try:
        for i in range(0, len(events), 500):
            producer.publish_and_wait(events[i : i + 500], client="trusted", accepted_ms=clock.now_ms())
    finally:
        producer.close()

    target = _graph(store_dir, "kill-stream")
    env = _consumer_env(tmp_path, store_dir, "kill-stream", stream)
    first = ConsumerProcess(env, tmp_path / "consumer-1.log", batch_size=20)
    try:
        wait_until(
            lambda: sum(v[1] for v in edges(target).values()) >= 200 or not first.alive(),
            what="the first consumer to apply some events",
            timeout_s=START_S,
            interval_s=0.05,
        )
        assert first.alive(), first.tail()
        first.kill9()  # between two batches, or between a store write and its offset commit
    finally:
        first.stop()
    applied_before = sum(v[1] for v in edges(target).values())
    assert applied_before < 3000, "the consumer finished before it was killed: the test proves nothing"

    second = ConsumerProcess(env, tmp_path / "consumer-2.log", batch_size=200)
    try:
        _wait_applied(target, expected, [second])
    finally:
        second.stop()
    assert edges(target) == expected  # every weight, count and type count: 0 lost, 0 double-counted
    totals = json.loads(second.tail().strip().splitlines()[-1])
    assert totals["applied"] + applied_before == 3000


def test_a_message_that_cannot_apply_goes_to_the_dead_letter_topic_and_the_partition_moves_on(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    from confluent_kafka import Consumer, Producer

    topic = f"events-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{kafka_broker}/{topic}"
    streamed = _settings(tmp_path, store_dir, "dlq", stream)
    ensure_topics(streamed, partitions=1)  # one partition: the bad messages come before the good one
    raw = Producer({"bootstrap.servers": kafka_broker, "acks": "all"})
    raw.produce(topic, value=b"{not json", key=b"u1")
    raw.produce(topic, value=json.dumps({"schema": 99, "event": {}}).encode(), key=b"u1")
    assert raw.flush(WAIT_S) == 0
    good = _validated([event("dlq-good", user_id="u1", item_id="i1", type="purchase")])
    producer = EventStreamProducer(streamed)
    try:
        producer.publish_and_wait(good, client="trusted", accepted_ms=clock.now_ms())
    finally:
        producer.close()

    target = _graph(store_dir, "dlq")
    consumer = ConsumerProcess(_consumer_env(tmp_path, store_dir, "dlq", stream), tmp_path / "c.log", batch_size=10)
    try:
        wait_until(
            lambda: ("u1", "i1") in edges(target) or not consumer.alive(),
            what="the good event behind two bad ones to be applied",
            timeout_s=START_S,
            interval_s=0.2,
        )
        assert consumer.alive(), consumer.tail()
    finally:
        consumer.stop()
    assert edges(target)[("u1", "i1")][1] == 1

    reader = Consumer(
        {"bootstrap.servers": kafka_broker, "group.id": f"dlq-reader-{topic}", "auto.offset.reset": "earliest"}
    )
    reader.subscribe([f"{topic}.dlq"])
    letters: list[tuple[bytes | None, dict[str, bytes]]] = []

    def read() -> bool:
        message = reader.poll(0.5)
        if message is not None and message.error() is None:
            letters.append((message.value(), {k: v for k, v in (message.headers() or []) if v is not None}))
        return len(letters) >= 2

    try:
        wait_until(read, what="two dead letters", timeout_s=WAIT_S, interval_s=0)
    finally:
        reader.close()
    assert [value for value, _ in letters] == [b"{not json", b'{"schema": 99, "event": {}}']
    reasons = [headers["graphrec-reason"].decode() for _, headers in letters]
    assert reasons[0].startswith("not JSON") and reasons[1].startswith("unknown schema version 99")
    assert letters[0][1]["graphrec-topic"] == topic.encode() and letters[0][1]["graphrec-offset"] == b"0"
