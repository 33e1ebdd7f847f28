"""The Kafka event path for the benchmarks: a real broker, a fresh topic, ``graphrec consume`` workers beside it,
and the two readings a benchmark takes of it (the group's lag on the broker, the edges in the store).

One home, so ``bench/ingest.py --via kafka`` and ``bench/outage.py`` start, watch and stop the same things
the same way. The pieces are the tests' (``tests/kafka_harness``: Apache Kafka 4 in a JVM, KRaft, one node;
``tests/kafka_stream.py``: the consumer subprocess, the broker's view of the group, the edge comparison),
imported as ``bench/stores.py`` imports the Neo4j harness: a benchmark that measured a differently started
broker or consumer would not be measuring what the tests prove correct. Embedded FalkorDB only: the
consumer subprocess reaches the bench's store through its data directory.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(_TESTS) not in sys.path:
    sys.path.append(str(_TESTS))  # after bench/ and the repository: tests/api must not shadow api

from confluent_kafka import KafkaException  # noqa: E402
from deadlines import START_S, wait_until  # noqa: E402 - tests/ on the path first
from kafka_harness import KafkaHarness  # noqa: E402
from kafka_stream import (  # noqa: E402
    PARTITIONS,
    ConsumerProcess,
    Edges,
    consumer_env,
    counted,
    edges,
    graph,
    group_lag,
    group_members,
)
from served_demo import free_port  # noqa: E402

__all__ = ["PARTITIONS", "StreamPath", "broker", "compare_edges", "counted", "edges", "graph", "stream_path"]

APPLIED = "graphrec_consumer_events_applied_total"
# graphrec consume's default. Its lag readings run in a thread and client of their own (they no longer hold
# up the worker's loop, as they did when the figures in the README were measured), but each is still a few
# broker requests and a log line; the bench reads the lag from the broker itself.
REPORT_EVERY_S = 10.0
# How long a bench waits for the consumer to apply what was acknowledged (it is the measured work, so
# generous: a loaded 2-core machine; past it the bench fails with the lag it saw instead of hanging).
DRAIN_S = 600.0


@contextlib.contextmanager
def broker() -> Iterator[KafkaHarness]:
    """The tests' broker, started and (SIGTERM, then kill past a deadline) stopped; ``.bootstrap``, ``.pid``."""
    with KafkaHarness(start_s=START_S) as harness:
        yield harness


@dataclass
class StreamPath:
    """One topic with ``graphrec consume`` workers (one consumer group) applying it to one graph."""

    bootstrap: str
    stream: str  # kafka://host:port/topic, the API's and the consumer's GRAPHREC_EVENT_STREAM
    group: str
    consumers: list[ConsumerProcess]

    @property
    def topic(self) -> str:
        return self.stream.rsplit("/", 1)[1]

    def lag(self) -> int:
        """Messages past the group's committed offsets, as the broker says (committed after the store write)."""
        return group_lag(self.bootstrap, self.group, self.topic)

    def applied(self) -> int:
        """The workers' own count of events added to edges (each one's /metrics, summed)."""
        return sum(int(c.metric(APPLIED) or 0) for c in self.consumers)

    def pids(self) -> list[int]:
        return [c.proc.pid for c in self.consumers]

    def wait_drained(self, *, timeout_s: float = DRAIN_S, interval_s: float = 0.2) -> float:
        """Until the group's lag on the broker is 0 (every message applied and committed); returns the
        ``time.perf_counter()`` at which that was seen. Fails at once when a worker exited."""

        def drained() -> bool:
            _check_alive(self.consumers)
            return self.lag() == 0

        wait_until(
            drained,
            what="the consumers to apply every message",
            timeout_s=timeout_s,
            interval_s=interval_s,
            detail=self.lag,
        )
        return time.perf_counter()


def _check_alive(consumers: list[ConsumerProcess]) -> None:
    for c in consumers:
        assert c.alive(), f"graphrec consume exited; its log ends:\n{c.tail()}"


@contextlib.contextmanager
def stream_path(
    bootstrap: str,
    workdir: Path,
    graph_name: str,
    *,
    batch_size: int,
    env: dict[str, str],
    consumers: int = 1,
    keep_log: Path | None = None,
) -> Iterator[StreamPath]:
    """A new topic (``PARTITIONS`` partitions, created by the workers) and ``consumers`` ``graphrec consume``
    workers of one new group applying it to graph ``graph_name`` of the embedded server in ``workdir / "store"``
    (bench/stores.py's layout), ``env`` over their environment; yields once the group's rebalance settled
    (every worker owns a partition, every partition is owned), and stops them afterwards. Their logs (the lag
    and apply rate every 10 s) are copied into the directory ``keep_log`` when given."""
    if not 1 <= consumers <= PARTITIONS:
        raise ValueError(f"consumers must be 1..{PARTITIONS} (the topic's partitions; more would sit idle)")
    name = f"{graph_name}-{uuid.uuid4().hex[:8]}"
    stream = f"kafka://{bootstrap}/bench-{name}"
    group = f"bench-group-{name}"
    worker_env = consumer_env(workdir, workdir / "store", graph_name, stream, group=group) | env
    started: list[ConsumerProcess] = []
    try:
        for k in range(consumers):
            started.append(
                ConsumerProcess(
                    worker_env,
                    workdir / f"consumer-{graph_name}-{k + 1}.log",
                    batch_size=batch_size,
                    metrics_port=free_port(),
                    report_every_s=REPORT_EVERY_S,
                )
            )

        def settled() -> bool:
            _check_alive(started)
            try:
                owned = group_members(bootstrap, group)
            # the group does not exist until a worker joins it; on a loaded machine the coordinator may not
            # answer within the reading's own deadline (WAIT_S) either: both are "not yet", START_S bounds it
            except (KafkaException, TimeoutError):
                return False
            return len(owned) == consumers and sum(owned) == PARTITIONS and min(owned) >= 1

        wait_until(settled, what=f"{consumers} graphrec consume to join their group", timeout_s=START_S, interval_s=0.5)
        yield StreamPath(bootstrap, stream, group, started)
    finally:
        for consumer in started:
            consumer.stop()
            if keep_log is not None:
                keep_log.mkdir(parents=True, exist_ok=True)
                shutil.copy(consumer.log, keep_log / consumer.log.name)


def compare_edges(reference: Edges, other: Edges) -> dict[str, object]:
    """How two graphs' edges compare: the same (user, item) pairs with the same event counts, times and
    per-type counts, and the largest weight difference (float sums may differ in the last bits when the
    events were batched differently)."""
    same_keys = reference.keys() == other.keys()
    common = reference.keys() & other.keys()
    same_counts = same_keys and all(reference[k][1:] == other[k][1:] for k in common)
    weight_diff = max((abs(reference[k][0] - other[k][0]) for k in common), default=0.0)
    return {
        "edges": [len(reference), len(other)],
        "events": [counted(reference), counted(other)],
        "match": same_counts and weight_diff <= 1e-6,
        "max_weight_diff": weight_diff,
    }
