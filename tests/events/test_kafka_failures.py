"""The Kafka event path under failure, on a real broker (``kafka_broker``) and the real embedded FalkorDB.

Issue 27 point 3: the API killed with SIGKILL while clients post, two consumers rebalancing, the store
unavailable for a while, and a replay of the topic from offset 0. Each test compares every edge (weight,
count, first and last time, per-type counts) with what the direct path builds from the same events, so one
event lost or counted twice fails it (``tests/kafka_stream.py``; a consumer killed mid-stream is in
``test_kafka_stream.py``).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
from deadlines import WAIT_S, Threads, wait_until
from fastapi.testclient import TestClient
from kafka_stream import (
    KEY,
    PARTITIONS,
    ConsumerProcess,
    Edges,
    consumer_env,
    counted,
    edges,
    graph,
    group_lag,
    group_members,
    make_events,
    publish,
    settings_for,
    validated,
    wait_applied,
)

from api.main import create_app
from graphrec.events.pipeline import build_pipeline
from graphrec.events.stream_consumer import EventConsumer
from graphrec.events.stream_topics import ensure_topics
from graphrec.graph.embedded import EmbeddedServer
from tests.live_api import free_port, start_api, stop_api

# The issue asks for the store down for 30 s; the outage only has to outlast several consumer retries and
# API health probes to prove the point, so the suite uses less. Set it to 30.0 to run the figure.
STORE_OUTAGE_S = 8.0

Batch = list[dict[str, object]]


def _direct(tmp_path: Path, store_dir: Path, name: str, events: Batch) -> Edges:
    """The edges the direct path (no Kafka) builds from ``events``, in a graph of their own."""
    store = graph(store_dir, name)
    build_pipeline(store, settings_for(tmp_path, store_dir, name)).ingest(validated(events))
    return edges(store)


def _topic(kafka_broker: str, tmp_path: Path, store_dir: Path, name: str) -> str:
    """A new topic (and its dead-letter topic) of ``PARTITIONS`` partitions; its kafka:// URI."""
    stream = f"kafka://{kafka_broker}/events-{name}-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings_for(tmp_path, store_dir, name, stream), partitions=PARTITIONS)
    return stream


def test_the_api_killed_while_clients_post_loses_no_acknowledged_event_and_a_retry_counts_once(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    events = make_events(1200, seed=3, prefix="api-kill")
    batches = [events[i : i + 25] for i in range(0, len(events), 25)]
    expected = _direct(tmp_path, store_dir, "api-kill-direct", events)
    stream = _topic(kafka_broker, tmp_path, store_dir, "api-kill")
    env = {
        "GRAPHREC_EVENT_STREAM": stream,
        "GRAPHREC_GRAPH_URI": f"embedded:{store_dir}",
        "GRAPHREC_FALKORDB_GRAPH": "api-kill",
        "GRAPHREC_DATA_DIR": str(tmp_path / "api-data"),
        "GRAPHREC_API_KEYS": KEY,
        "GRAPHREC_RATE_LIMIT_PER_S": "10000",
        "GRAPHREC_RATE_LIMIT_BURST": "10000",
        "GRAPHREC_EVENTS_MAX_PER_MINUTE": "100000",
    }
    port = free_port()
    answers: dict[int, int | None] = {}  # batch index: the status it got, None when no answer came

    def client(indices: list[int]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=WAIT_S) as http:
            for i in indices:
                try:
                    answers[i] = http.post("/v1/events", json={"events": batches[i]}).status_code
                except httpx.TransportError:  # the API died under this request, or before it
                    answers[i] = None

    api = start_api(env, port, log=tmp_path / "api-1.log")
    threads = Threads()
    try:
        for k in range(3):
            threads.start(client, list(range(k, len(batches), 3)), name=f"client-{k}")
        wait_until(
            lambda: sum(1 for s in answers.values() if s == 202) >= 9,
            what="some batches acknowledged before the kill",
            detail=lambda: answers,
        )
        api.send_signal(signal.SIGKILL)
        api.wait(timeout=WAIT_S)
        threads.join()
    finally:
        stop_api(api)
    acknowledged = {i for i, s in answers.items() if s == 202}
    assert set(answers.values()) <= {202, None}, answers
    assert len(acknowledged) < len(batches), "every batch was answered before the kill: the test proves nothing"

    # the clients retry what got no answer, with the same event ids, and one acknowledged batch again
    again = start_api(env, port, log=tmp_path / "api-2.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=WAIT_S) as http:
            for i in sorted(set(range(len(batches))) - acknowledged) + [min(acknowledged)]:
                response = http.post("/v1/events", json={"events": batches[i]})
                assert response.status_code == 202, response.text
    finally:
        stop_api(again)

    target = graph(store_dir, "api-kill")
    consumer = ConsumerProcess(
        consumer_env(tmp_path, store_dir, "api-kill", stream), tmp_path / "consumer.log", batch_size=300
    )
    try:
        wait_applied(target, expected, [consumer])  # every event once: the acknowledged ones included
    finally:
        consumer.stop()
    assert consumer.totals()["applied"] == len(events)


def test_two_consumers_rebalancing_lose_nothing_and_count_nothing_twice(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    events = make_events(2400, seed=4, prefix="rebalance")
    first_part, second_part, third_part = events[:1200], events[1200:1800], events[1800:]
    expected = _direct(tmp_path, store_dir, "rebalance-direct", events)
    stream = _topic(kafka_broker, tmp_path, store_dir, "rebalance")
    streamed = settings_for(tmp_path, store_dir, "rebalance", stream)
    group = f"group-rebalance-{uuid.uuid4().hex[:8]}"
    env = consumer_env(tmp_path, store_dir, "rebalance", stream, group=group)
    target = graph(store_dir, "rebalance")

    publish(streamed, validated(first_part))
    first = ConsumerProcess(env, tmp_path / "consumer-1.log", batch_size=20)
    second: ConsumerProcess | None = None
    try:
        wait_until(
            lambda: counted(edges(target)) >= 100 or not first.alive(),
            what="the first consumer to apply some events",
            timeout_s=180.0,
            interval_s=0.1,
        )
        assert first.alive(), first.tail()
        second = ConsumerProcess(env, tmp_path / "consumer-2.log", batch_size=200)  # it drains the rest
        wait_until(
            lambda: sorted(group_members(kafka_broker, group)) == [1, 2],
            what="the second consumer to join and take a partition",
            timeout_s=180.0,
            interval_s=0.5,
            detail=lambda: (group_members(kafka_broker, group), first.tail()[-500:], second and second.tail()[-500:]),
        )
        publish(streamed, validated(second_part))  # both consume this part
        first.stop()  # leaves the group mid-stream: its uncommitted batch goes to the second
        assert first.proc.returncode == 0, first.tail()
        wait_until(
            lambda: group_members(kafka_broker, group) == [PARTITIONS],
            what="the second consumer to own every partition",
            interval_s=0.5,
        )
        publish(streamed, validated(third_part))
        wait_applied(target, expected, [second])
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert second is not None
    one, two = first.totals(), second.totals()
    assert one["applied"] > 0 and two["applied"] > 0, (one, two)  # both took part
    assert one["applied"] + two["applied"] == len(events)  # a redelivered batch reported as duplicates


def test_a_store_outage_leaves_the_api_acknowledging_and_the_consumer_catches_up(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    events = make_events(1000, seed=5, prefix="outage")
    before, during = events[:300], events[300:]
    expected = _direct(tmp_path, store_dir, "outage-direct", events)
    stream = _topic(kafka_broker, tmp_path, store_dir, "outage")
    group = f"group-outage-{uuid.uuid4().hex[:8]}"
    target = graph(store_dir, "outage")
    api_settings = settings_for(tmp_path, store_dir, "outage", stream).model_copy(
        update={"store_check_s": 0.2, "store_timeout_s": 1.0}  # the API sees the outage quickly
    )
    consumer = ConsumerProcess(
        consumer_env(tmp_path, store_dir, "outage", stream, group=group), tmp_path / "consumer.log", batch_size=100
    )
    topic = stream.rsplit("/", 1)[1]
    server = EmbeddedServer(store_dir).info()
    assert server is not None
    try:
        with TestClient(create_app(api_settings), headers={"X-API-Key": KEY}) as client:
            for i in range(0, len(before), 50):
                assert client.post("/v1/events", json={"events": before[i : i + 50]}).status_code == 202
            wait_applied(target, _direct(tmp_path, store_dir, "outage-before", before), [consumer])
            wait_until(lambda: group_lag(kafka_broker, group, topic) == 0, what="the offsets committed")

            # the store stops answering: SIGSTOP freezes its server (a kill -9 would be undone at once by
            # the API's watchdog, which restarts an embedded server it finds dead)
            os.kill(server.pid, signal.SIGSTOP)
            try:
                outage_ends = time.monotonic() + STORE_OUTAGE_S
                wait_until(
                    lambda: client.get("/readyz").json()["checks"]["store_down_s"] > 0,
                    what="the API to see the store down",
                )
                lags = []
                for i in range(0, len(during), 50):
                    response = client.post("/v1/events", json={"events": during[i : i + 50]})
                    assert response.status_code == 202, response.text  # stream mode never needs the store
                    lags.append(group_lag(kafka_broker, group, topic))
                assert lags == sorted(lags) and lags[-1] == len(during), lags  # nothing applied: the lag grows
                while time.monotonic() < outage_ends:  # the rest of the outage; the consumer must wait it out
                    assert consumer.alive(), consumer.tail()
                    time.sleep(0.2)
                assert client.get("/readyz").status_code == 503  # still down: the 202s were not luck
            finally:
                os.kill(server.pid, signal.SIGCONT)
        wait_applied(target, expected, [consumer])  # it waited for the store instead of giving up
        wait_until(lambda: group_lag(kafka_broker, group, topic) == 0, what="the lag back to 0")
    finally:
        consumer.stop()
    assert consumer.totals()["applied"] == len(events)


def test_replaying_the_topic_from_offset_0_into_an_empty_store_rebuilds_the_direct_paths_edges(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    events = make_events(600, seed=6, prefix="replay")
    batches = [events[i : i + 50] for i in range(0, len(events), 50)]
    stream = _topic(kafka_broker, tmp_path, store_dir, "replay")
    for name, uri in (("replay-direct", ""), ("replay-live", stream)):
        with TestClient(create_app(settings_for(tmp_path, store_dir, name, uri)), headers={"X-API-Key": KEY}) as c:
            for batch in batches:
                assert c.post("/v1/events", json={"events": batch}).status_code == 202
    expected = edges(graph(store_dir, "replay-direct"))
    assert counted(expected) == len(events)

    def consume_all(name: str, group: str) -> Edges:
        """A consumer group of its own reads the topic from offset 0 into graph ``name``."""
        store = graph(store_dir, name)
        settings = settings_for(tmp_path, store_dir, name, stream).model_copy(update={"kafka_consumer_group": group})
        worker = EventConsumer(settings, build_pipeline(store, settings), batch_size=100, poll_s=0.2)
        threads = Threads()
        threads.start(worker.run, name=f"consumer-{name}")
        try:
            wait_until(lambda: counted(edges(store)) >= len(events), what=f"{name} to hold every event")
        finally:
            worker.stop.set()
            threads.join()
        return edges(store)

    assert consume_all("replay-live", "group-live") == expected
    assert edges(graph(store_dir, "replay-again")) == {}
    assert consume_all("replay-again", "group-replay") == expected  # the second reading rebuilds the same
