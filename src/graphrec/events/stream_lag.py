"""A consumer's lag, read from the broker in a thread of its own, so applying events never waits for it.

Why not on the work loop (as before): a reading asks the broker for each partition's end offset, and on the
worker's own client that request queues behind its long-poll fetch on the same connection; the loop stood
still meanwhile (~1.4 s per reading on three partitions while behind). Why not librdkafka's statistics
callback (``statistics.interval.ms``, ``consumer_lag`` per partition): it is served from the worker's own
poll, so while the worker waits out a store outage (not polling) the reported lag would freeze at the very
moment it matters.

Here a client of its own (the worker's group id, but it never joins the group) reads the group's committed
offsets and the end offsets of the partitions this worker owns (its :class:`Assignment`, kept by the
rebalance callbacks). Lag = end offset - committed offset (the whole partition where the group committed
nothing: a new group reads from the start): the messages not yet applied, since the worker commits only after
the store write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

logger = logging.getLogger(__name__)


class Assignment:
    """The partitions a worker owns now: written by its rebalance callbacks (on its poll thread), read by the
    lag thread."""

    def __init__(self) -> None:
        self._partitions: set[int] = set()
        self._lock = threading.Lock()

    def add(self, partitions: Collection[TopicPartition]) -> None:
        with self._lock:
            self._partitions.update(int(tp.partition) for tp in partitions)

    def remove(self, partitions: Collection[TopicPartition]) -> None:
        with self._lock:
            self._partitions.difference_update(int(tp.partition) for tp in partitions)

    def current(self) -> list[int]:
        with self._lock:
            return sorted(self._partitions)


def read_lag(client: Consumer, *, topic: str, partitions: Collection[int], timeout_s: float) -> dict[int, int]:
    """Messages past the group's committed offset on each of ``partitions`` (``client``'s group id), as the
    broker says; raises :class:`KafkaException` when the broker does not answer in ``timeout_s``."""
    if not partitions:
        return {}
    committed = client.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout_s)
    lag: dict[int, int] = {}
    for tp in committed:
        low, high = client.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        lag[int(tp.partition)] = max(0, high - (tp.offset if tp.offset >= 0 else low))
    return lag


class LagMonitor:
    """Reads the lag every ``every_s`` in its own thread and hands each reading to ``on_reading``.

    A reading that fails (broker slow or away) is logged and skipped: the next one comes ``every_s`` later.
    ``on_reading`` runs on the monitor's thread."""

    def __init__(
        self,
        client_config: Mapping[str, Any],
        *,
        group: str,
        topic: str,
        assignment: Assignment,
        every_s: float,
        on_reading: Callable[[dict[int, int]], None],
        timeout_s: float = 5.0,
    ) -> None:
        self._config = {
            **client_config,
            "group.id": group,
            "enable.auto.commit": False,  # it only reads the group's offsets; it never joins nor commits
            "client.id": "graphrec-consume-lag",
        }
        self.topic = topic
        self.assignment = assignment
        self.every_s = every_s
        self.timeout_s = timeout_s
        self._on_reading = on_reading
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="graphrec-consume-lag", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ends the thread after its current reading (bounded by the broker timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s * 3 + 5)

    def _run(self) -> None:
        client = Consumer(self._config)
        try:
            while not self._stop.wait(self.every_s):
                try:
                    lag = read_lag(
                        client, topic=self.topic, partitions=self.assignment.current(), timeout_s=self.timeout_s
                    )
                except KafkaException as exc:
                    logger.warning("consumer: lag not measured (%s)", exc)
                    continue
                try:
                    self._on_reading(lag)
                except Exception:  # a bad report must not end the readings
                    logger.exception("consumer: the lag report failed")
        finally:
            client.close()
