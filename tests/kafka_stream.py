"""What the Kafka event-path tests share: events whose weights add exactly, the edges of a graph as one
comparable value, ``graphrec consume`` as a real subprocess, and the broker's view of a consumer group.

Why one home: each failure test (a consumer killed, the API killed, a rebalance, a store outage, a replay)
compares the graph the stream built with the graph the direct path builds from the same events; the
comparison, the consumer process and the waits must be the same in all of them, or a test could pass by
comparing less.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from deadlines import START_S, WAIT_S, wait_until

from factories import event
from graphrec import clock
from graphrec.config import Settings
from graphrec.events.schema import EventIn, validate_events
from graphrec.events.stream_producer import EventStreamProducer
from graphrec.graph.falkordb_store import FalkorDBStore

REPO = Path(__file__).resolve().parents[1]
KEY = "kafka-test-key"
# types whose policy weights are sums of powers of two: no float rounding depends on the batching
EXACT_TYPES = ("view", "click", "add_to_cart", "purchase", "like", "share", "dislike")
PARTITIONS = 3

Edges = dict[tuple[str, str], tuple[float, int, int, int, tuple[tuple[str, int], ...]]]


def graph(store_dir: Path, name: str) -> FalkorDBStore:
    """The graph ``name`` of the embedded server in ``store_dir``, schema applied."""
    store = FalkorDBStore.embedded(store_dir, graph=name, die_with_parent=True)
    store.apply_schema()
    return store


def edges(store: FalkorDBStore) -> Edges:
    """Every edge with weight, count, first and last time and per-type counts: equal only if nothing was
    lost and nothing counted twice."""
    return {
        (e.user_id, e.item_id): (e.weight, e.count, e.first_ts, e.last_ts, tuple(sorted(e.type_counts.items())))
        for page in store.iter_interaction_aggregates()
        for e in page
    }


def counted(values: Edges) -> int:
    """How many events the edges hold."""
    return sum(v[1] for v in values.values())


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


def validated(raw: list[dict[str, object]]) -> list[EventIn]:
    return validate_events(raw, now_ms=clock.now_ms(), skew_ms=300_000)


def settings_for(tmp_path: Path, store_dir: Path, graph_name: str, stream: str = "") -> Settings:
    """The API's settings on graph ``graph_name``: stream mode when ``stream`` is a kafka:// URI."""
    return Settings(
        data_dir=tmp_path / f"data-{graph_name}",
        event_log=tmp_path / f"events-{graph_name}.sqlite",
        graph_uri=f"embedded:{store_dir}",
        falkordb_graph=graph_name,
        api_keys=KEY,
        rate_limit_per_s=10_000,
        rate_limit_burst=10_000,
        events_max_per_minute=10_000,
        event_stream=stream,
    )


def publish(settings: Settings, events: list[EventIn], *, chunk: int = 500) -> None:
    """Produce ``events`` as the API does (``client="trusted"``), each chunk acknowledged by the broker."""
    producer = EventStreamProducer(settings)
    try:
        for i in range(0, len(events), chunk):
            producer.publish_and_wait(events[i : i + chunk], client="trusted", accepted_ms=clock.now_ms())
    finally:
        producer.close()


def consumer_env(tmp_path: Path, store_dir: Path, graph_name: str, stream: str, *, group: str = "") -> dict[str, str]:
    """The environment of ``graphrec consume`` applying ``stream`` to graph ``graph_name``."""
    return {
        "GRAPHREC_EVENT_STREAM": stream,
        "GRAPHREC_KAFKA_CONSUMER_GROUP": group or f"group-{graph_name}",
        "GRAPHREC_GRAPH_URI": f"embedded:{store_dir}",
        "GRAPHREC_FALKORDB_GRAPH": graph_name,
        "GRAPHREC_EVENT_LOG": str(tmp_path / f"consumer-events-{graph_name}.sqlite"),
        "GRAPHREC_DATA_DIR": str(tmp_path / f"consumer-data-{graph_name}"),
    }


class ConsumerProcess:
    """``graphrec consume`` in a subprocess, its log in a file; :meth:`stop` ends it (SIGTERM, then kill).

    ``metrics_port``: serve its Prometheus ``/metrics`` there (:meth:`metric` reads one value).
    ``report_every_s``: how often it reads (in a thread of its own, off its work loop) and logs its lag; often
    in tests (the log and ``/metrics`` show progress), the deployed default (10 s) in benchmarks."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        *,
        batch_size: int,
        metrics_port: int | None = None,
        report_every_s: float = 0.5,
    ) -> None:
        self.log = log
        self.metrics_port = metrics_port
        command = [sys.executable, "-m", "graphrec", "consume", "--batch-size", str(batch_size)]
        command += ["--partitions", str(PARTITIONS), "--report-every-s", str(report_every_s)]
        if metrics_port is not None:
            command += ["--metrics-port", str(metrics_port)]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_bytes()[-3000:].decode(errors="replace")

    def totals(self) -> dict[str, int]:
        """What the stopped worker printed last: its applied, duplicate and dead-letter counts."""
        return dict(json.loads(self.tail().strip().splitlines()[-1]))

    def metric(self, name: str) -> float | None:
        """The sum of metric ``name`` over its labels on the worker's ``/metrics``; None while it does not
        answer yet."""
        assert self.metrics_port is not None, "started without a metrics port"
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return None
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)]
        return sum(values) if values else None

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


def wait_applied(store: FalkorDBStore, expected: Edges, consumers: list[ConsumerProcess]) -> None:
    """Until the store holds exactly ``expected``; fails at once when a consumer exits."""

    def done() -> bool:
        for c in consumers:
            assert c.alive(), f"graphrec consume exited ({c.proc.returncode}); its log ends:\n{c.tail()}"
        return edges(store) == expected

    wait_until(
        done,
        what="the consumers to apply every event",
        timeout_s=START_S,  # a fresh Python process that imports graphrec, then the work
        interval_s=0.3,
        detail=lambda: (counted(edges(store)), counted(expected)),
    )


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """The broker's view of ``group`` on ``topic``: messages past its committed offsets (all of a
    partition where it committed none), summed over the partitions."""
    from confluent_kafka import Consumer, TopicPartition

    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=WAIT_S)
        lag = 0
        for tp in committed:
            low, high = reader.get_watermark_offsets(tp, timeout=WAIT_S, cached=False)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        reader.close()


def group_members(bootstrap: str, group: str) -> list[int]:
    """How many partitions each member of ``group`` is assigned, as the broker's coordinator says."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(timeout=WAIT_S)
    return [len(m.assignment.topic_partitions) for m in description.members]
