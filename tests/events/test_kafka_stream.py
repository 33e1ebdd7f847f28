"""The Kafka event path end to end, on a real broker (``kafka_broker``) and the embedded FalkorDB store.

What it proves: events accepted by the API in stream mode and applied by ``graphrec consume`` (a real
subprocess) give exactly the edges the direct path gives for the same events; a consumer killed with
SIGKILL mid-stream and started again loses nothing and counts nothing twice; a message that can never
apply lands in ``<topic>.dlq`` with its reason and does not block its partition; the consumer's ``/metrics``
report its lag while its work loop waits for a frozen store (the lag is read in a thread of its own), and
the lag back to 0 once the store returns. Weights are compared
exactly: the events use types whose policy weights are sums of powers of two, so no float rounding
depends on how the stream split them into batches.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import uuid
from pathlib import Path

from deadlines import START_S, WAIT_S, wait_until
from fastapi.testclient import TestClient
from kafka_stream import (
    KEY,
    ConsumerProcess,
    consumer_env,
    counted,
    edges,
    graph,
    group_lag,
    make_events,
    publish,
    settings_for,
    validated,
    wait_applied,
)

from api.main import create_app
from factories import event
from graphrec.events.pipeline import build_pipeline
from graphrec.events.stream_topics import ensure_topics
from graphrec.graph.embedded import EmbeddedServer
from tests.live_api import free_port

LAG = "graphrec_consumer_lag"
APPLIED = "graphrec_consumer_events_applied_total"


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

    direct = settings_for(tmp_path, store_dir, "eq-direct")
    with TestClient(create_app(direct), headers={"X-API-Key": KEY}) as client:
        for batch in batches:
            assert "queued" not in _post(client, batch)  # the direct path answers as it always did

    streamed = settings_for(tmp_path, store_dir, "eq-stream", stream)
    ensure_topics(streamed, partitions=3)
    with TestClient(create_app(streamed), headers={"X-API-Key": KEY}) as client:
        for batch in batches:
            body = _post(client, batch)
            assert body["queued"] == len(batch) and body["applied"] == 0

    expected = edges(graph(store_dir, "eq-direct"))
    assert counted(expected) == 300
    target = graph(store_dir, "eq-stream")
    assert edges(target) == {}  # nothing is applied before a consumer runs
    consumer = ConsumerProcess(
        consumer_env(tmp_path, store_dir, "eq-stream", stream), tmp_path / "consumer.log", batch_size=40
    )
    try:
        wait_applied(target, expected, [consumer])
    finally:
        consumer.stop()
    totals = consumer.totals()
    assert totals["applied"] == 300 and totals["duplicates"] == 50 and totals["dead_letters"] == 0


def test_a_consumer_killed_mid_stream_loses_nothing_and_counts_nothing_twice(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{kafka_broker}/{topic}"
    events = validated(make_events(3000, seed=2, prefix="kill"))

    direct = settings_for(tmp_path, store_dir, "kill-direct")
    expected_store = graph(store_dir, "kill-direct")
    build_pipeline(expected_store, direct).ingest(events)
    expected = edges(expected_store)

    streamed = settings_for(tmp_path, store_dir, "kill-stream", stream)
    ensure_topics(streamed, partitions=3)
    publish(streamed, events)

    target = graph(store_dir, "kill-stream")
    # The killed member's partitions go to the second consumer once the group stops waiting for its
    # heartbeats: the broker's shortest session (6 s), not librdkafka's default 45 s.
    env = {**consumer_env(tmp_path, store_dir, "kill-stream", stream), "GRAPHREC_KAFKA_SESSION_TIMEOUT_S": "6"}
    first = ConsumerProcess(env, tmp_path / "consumer-1.log", batch_size=20)
    try:
        wait_until(
            lambda: counted(edges(target)) >= 200 or not first.alive(),
            what="the first consumer to apply some events",
            timeout_s=START_S,
            interval_s=0.05,
        )
        assert first.alive(), first.tail()
        first.kill9()  # between two batches, or between a store write and its offset commit
    finally:
        first.stop()
    applied_before = counted(edges(target))
    assert applied_before < 3000, "the consumer finished before it was killed: the test proves nothing"

    second = ConsumerProcess(env, tmp_path / "consumer-2.log", batch_size=200)
    try:
        wait_applied(target, expected, [second])
    finally:
        second.stop()
    assert edges(target) == expected  # every weight, count and type count: 0 lost, 0 double-counted
    totals = second.totals()
    assert totals["applied"] + applied_before == 3000


def test_a_message_that_cannot_apply_goes_to_the_dead_letter_topic_and_the_partition_moves_on(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    from confluent_kafka import Consumer, Producer

    topic = f"events-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{kafka_broker}/{topic}"
    streamed = settings_for(tmp_path, store_dir, "dlq", stream)
    ensure_topics(streamed, partitions=1)  # one partition: the bad messages come before the good one
    raw = Producer({"bootstrap.servers": kafka_broker, "acks": "all"})
    raw.produce(topic, value=b"{not json", key=b"u1")
    raw.produce(topic, value=json.dumps({"schema": 99, "event": {}}).encode(), key=b"u1")
    assert raw.flush(WAIT_S) == 0
    good = validated([event("dlq-good", user_id="u1", item_id="i1", type="purchase")])
    publish(streamed, good)

    target = graph(store_dir, "dlq")
    consumer = ConsumerProcess(consumer_env(tmp_path, store_dir, "dlq", stream), tmp_path / "c.log", batch_size=10)
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


def test_the_lag_is_reported_while_the_worker_waits_for_the_store(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{kafka_broker}/{topic}"
    events = validated(make_events(500, seed=3, prefix="lag"))
    streamed = settings_for(tmp_path, store_dir, "lag", stream)
    ensure_topics(streamed, partitions=3)
    group = f"group-lag-{uuid.uuid4().hex[:8]}"
    target = graph(store_dir, "lag")
    consumer = ConsumerProcess(
        consumer_env(tmp_path, store_dir, "lag", stream, group=group),
        tmp_path / "consumer.log",
        batch_size=50,
        metrics_port=free_port(),
    )
    server = EmbeddedServer(store_dir).info()
    assert server is not None

    def metrics(lag: float, applied: float) -> bool:
        assert consumer.alive(), f"graphrec consume exited; its log ends:\n{consumer.tail()}"
        return consumer.metric(LAG) == lag and consumer.metric(APPLIED) == applied

    try:
        publish(streamed, events[:100])
        wait_until(
            lambda: metrics(0, 100),
            what="the first 100 events applied and a lag of 0 reported",
            timeout_s=START_S,
            interval_s=0.2,
            detail=lambda: (consumer.metric(LAG), consumer.metric(APPLIED)),
        )
        os.kill(server.pid, signal.SIGSTOP)  # the worker's next store write waits, and its loop with it
        try:
            publish(streamed, events[100:])
            wait_until(
                lambda: metrics(400, 100),
                what="the stalled worker to report the 400 messages it has not applied",
                interval_s=0.2,
                detail=lambda: (consumer.metric(LAG), consumer.metric(APPLIED)),
            )
            assert group_lag(kafka_broker, group, topic) == 400  # the broker's own view agrees
        finally:
            os.kill(server.pid, signal.SIGCONT)
        wait_until(
            lambda: consumer.metric(LAG) == 0 and counted(edges(target)) == 500,
            what="the lag back to 0 with every event applied",
            interval_s=0.2,
            detail=lambda: (consumer.metric(LAG), counted(edges(target))),
        )
    finally:
        consumer.stop()
    assert consumer.totals()["lag"] == {"0": 0, "1": 0, "2": 0}


def test_purchase_details_and_custom_events_reach_the_consumers_event_log_and_no_edge(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{kafka_broker}/{topic}"
    streamed = settings_for(tmp_path, store_dir, "rev-stream", stream)
    ensure_topics(streamed, partitions=1)
    buy = {**event("rev-1", user_id="u1", item_id="i1", type="purchase")}
    buy.update(price=19.99, currency="EUR", quantity=2, order_id="o-1")
    wish = {
        "event_id": "rev-2",
        "user_id": "u1",
        "type": "custom",
        "name": "wishlist_add",
        "timestamp": buy["timestamp"],
    }
    with TestClient(create_app(streamed), headers={"X-API-Key": KEY}) as client:
        body = _post(client, [buy, {**wish, "properties": {"list": "summer"}}])
        assert body["queued"] == 2

    env = consumer_env(tmp_path, store_dir, "rev-stream", stream)
    log_path = Path(env["GRAPHREC_EVENT_LOG"])
    target = graph(store_dir, "rev-stream")
    consumer = ConsumerProcess(env, tmp_path / "rev-consumer.log", batch_size=10)

    def logged() -> bool:
        assert consumer.alive(), consumer.tail()
        if not log_path.exists():
            return False
        with sqlite3.connect(log_path) as db:
            return db.execute("SELECT count(*) FROM custom_events").fetchone()[0] == 1

    try:
        wait_until(logged, what="the custom event in the consumer's event log", timeout_s=START_S, interval_s=0.2)
    finally:
        consumer.stop()
    with sqlite3.connect(log_path) as db:
        assert db.execute("SELECT price, currency, quantity, order_id FROM purchases").fetchall() == [
            (19.99, "EUR", 2, "o-1")
        ]
        assert db.execute("SELECT name, item_id, properties FROM custom_events").fetchall() == [
            ("wishlist_add", None, '{"list":"summer"}')
        ]
    assert list(edges(target)) == [("u1", "i1")]  # the purchase's edge; the custom event makes none
