"""``graphrec consume``: apply the events of the Kafka topic to the store, each exactly once.

Why at-least-once plus an idempotent apply: a worker reads a batch, runs it through the very pipeline the
direct path uses (:class:`graphrec.events.pipeline.EventPipeline`: dedupe by event id, weighting, cleaning,
the group-committed store write that records the event ids with the edge deltas, then the event log) and
commits its offsets only after that write. A worker killed between the write and the commit gets its
batch again (it, or the worker the partition moves to); the store already holds those event ids, so the
pipeline reports them as duplicates and adds nothing: no event lost, none counted twice.

The event log is written here, on the consumer side, by the pipeline after the store write: the log
records what was applied (a file per consumer host; point ``GRAPHREC_EVENT_LOG`` at shared storage when
the API's profiles must see it).

A message that can never apply (not JSON, an unknown schema version, an invalid event, an event id reused
with other content) goes to ``<topic>.dlq`` with its reason in the ``graphrec-reason`` header (and where it
came from), acknowledged by the broker before the offsets move on, so it neither blocks its partition nor
disappears. A store outage is not such a message: the batch is retried, with backoff, until it applies
(or the worker is stopped, uncommitted: the next owner of the partition applies it).

Consumer lag (per partition this worker owns) and the applied events are Prometheus metrics on the worker's
own ``/metrics`` (``graphrec consume --metrics-port``), and logged every ``report_every_s``. The lag is read
from the broker by :mod:`graphrec.events.stream_lag` in a thread of its own: applying never waits for it,
and it keeps growing in the metrics while the worker waits for an unavailable store.

What the API runs after it applies a batch itself (feedback attribution, trigger marks) is the pipeline's
listeners; ``graphrec consume`` gives its pipeline the same ones (:mod:`graphrec.commands.consume`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from graphrec.config import EventStreamLocation, Settings
from graphrec.events.envelope import StreamedEvent, Undeliverable, decode
from graphrec.events.idempotency import IdempotencyConflict
from graphrec.events.pipeline import EventPipeline
from graphrec.events.stream_lag import Assignment, LagMonitor
from graphrec.graph.errors import StoreUnavailable

logger = logging.getLogger(__name__)

REASON_HEADER = "graphrec-reason"
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 10.0


class ConsumerMetrics:
    """The worker's Prometheus metrics, in a registry of its own (the worker is not the API)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.applied = Counter(
            "graphrec_consumer_events_applied_total", "events added to edges", registry=self.registry
        )
        self.duplicates = Counter(
            "graphrec_consumer_events_duplicate_total",
            "events already applied (redelivered after a crash or a rebalance)",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "graphrec_consumer_dead_letters_total", "messages sent to the dead-letter topic", registry=self.registry
        )
        self.lag = Gauge(
            "graphrec_consumer_lag", "messages not yet applied, per partition", ["partition"], registry=self.registry
        )


@dataclass(slots=True)
class ConsumeTotals:
    """What one worker did since it started (the command prints it when it stops)."""

    messages: int = 0
    applied: int = 0
    duplicates: int = 0
    collapsed: int = 0
    flagged: int = 0
    refused: int = 0
    dead_letters: int = 0
    lag: dict[int, int] = field(default_factory=dict)


class _Stopped(Exception):
    """The worker was asked to stop while it waited for the store: the batch stays uncommitted."""


class EventConsumer:
    """One consumer-group member: reads, applies, dead-letters, commits; :meth:`run` until stopped."""

    def __init__(
        self,
        settings: Settings,
        pipeline: EventPipeline,
        *,
        batch_size: int = 500,
        poll_s: float = 0.5,
        report_every_s: float = 10.0,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        location = settings.event_stream_location
        if location is None:
            raise ValueError("GRAPHREC_EVENT_STREAM is not set: there is no topic to consume")
        self.location: EventStreamLocation = location
        self.pipeline = pipeline
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.report_every_s = report_every_s
        self.metrics = metrics if metrics is not None else ConsumerMetrics()
        self.totals = ConsumeTotals()
        self.stop = threading.Event()
        self._skew_ms = int(settings.events_clock_skew_s * 1000)
        base = settings.kafka_client_config()
        session_ms = int(settings.kafka_session_timeout_s * 1000)
        consumer_config: dict[str, Any] = {
            **base,
            "group.id": settings.kafka_consumer_group,
            "enable.auto.commit": False,  # offsets move only after the store write (see the module text)
            "auto.offset.reset": "earliest",  # a new group applies the whole topic
            "client.id": "graphrec-consume",
            # a killed member's partitions wait this long for another member (heartbeats: a third of it)
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": min(3000, session_ms // 3),
        }
        self._consumer = Consumer(consumer_config)
        self._client_config = base
        self._group = settings.kafka_consumer_group
        self.assignment = Assignment()  # kept by the rebalance callbacks, read by the lag thread
        self._gauged: set[int] = set()
        self._last_report = (time.monotonic(), 0)
        self._dead = Producer({**base, "enable.idempotence": True, "acks": "all", "client.id": "graphrec-dlq"})

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> ConsumeTotals:
        """Consume until :attr:`stop` is set; leaves the group cleanly (its partitions move at once). The lag
        is read and reported meanwhile by a :class:`LagMonitor` thread."""
        self._consumer.subscribe(
            [self.location.topic],
            on_assign=lambda _c, parts: self.assignment.add(parts),
            on_revoke=lambda _c, parts: self.assignment.remove(parts),
            on_lost=lambda _c, parts: self.assignment.remove(parts),
        )
        self._last_report = (time.monotonic(), self.totals.applied)
        monitor = LagMonitor(
            self._client_config,
            group=self._group,
            topic=self.location.topic,
            assignment=self.assignment,
            every_s=self.report_every_s,
            on_reading=self.report_lag,
        )
        monitor.start()
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                except _Stopped:
                    break
        finally:
            monitor.stop()
            self._consumer.close()
            self._dead.flush(10)
        return self.totals

    def report_lag(self, lag: dict[int, int]) -> None:
        """One lag reading (on the monitor's thread): the gauge per owned partition (partitions no longer
        owned leave it, so the workers' gauges add up to the group's lag), the totals, and a log line with
        the apply rate since the previous one."""
        for partition, value in lag.items():
            self.metrics.lag.labels(partition=str(partition)).set(value)
        for partition in set(self._gauged) - set(lag):
            self.metrics.lag.remove(str(partition))
        self._gauged = set(lag)
        self.totals.lag = lag
        now, applied = time.monotonic(), self.totals.applied
        then, applied_then = self._last_report
        rate = (applied - applied_then) / (now - then) if now > then else 0.0
        self._last_report = (now, applied)
        logger.info(
            "consumer: %d applied (%.0f events/s), %d duplicates, %d dead letters, lag %s",
            applied,
            rate,
            self.totals.duplicates,
            self.totals.dead_letters,
            sum(lag.values()),
        )

    def step(self) -> int:
        """Read one batch, apply it, dead-letter what can never apply, commit; the messages handled."""
        messages = self._consumer.consume(num_messages=self.batch_size, timeout=self.poll_s)
        usable: list[Message] = []
        for message in messages:
            error = message.error()
            if error is None:
                usable.append(message)
            elif error.fatal():
                raise KafkaException(error)
            elif error.code() != KafkaError._PARTITION_EOF:
                logger.warning("consumer: %s", error.str())
        if not usable:
            return 0
        decoded: list[tuple[Message, StreamedEvent]] = []
        dead: list[tuple[Message, str]] = []
        for message in usable:
            try:
                decoded.append((message, decode(message.value(), skew_ms=self._skew_ms)))
            except Undeliverable as exc:
                dead.append((message, str(exc)))
        for run in _runs_by_client(decoded):
            dead.extend(self._apply(run))
        self._dead_letter(dead)
        self._commit(usable)
        self.totals.messages += len(usable)
        return len(usable)

    # -- applying ----------------------------------------------------------------------------------
    def _apply(self, run: list[tuple[Message, StreamedEvent]]) -> list[tuple[Message, str]]:
        """Apply one client's consecutive events through the pipeline; retried while the store is down.
        Returns the messages that can never apply (ids reused with other content), with their reason."""
        dead: list[tuple[Message, str]] = []
        wait_s = _RETRY_FIRST_S
        while run:
            try:
                report = self.pipeline.ingest([s.event for _, s in run], on_refused="drop", client=run[0][1].client)
            except IdempotencyConflict as exc:  # nothing was written; drop the conflicting events and retry
                bad = {c.index: c.reason for c in exc.conflicts}
                dead.extend((run[i][0], f"event id reused with different content: {r}") for i, r in bad.items())
                run = [pair for i, pair in enumerate(run) if i not in bad]
                continue
            except (StoreUnavailable, RuntimeError) as exc:  # the store is down, or a write kept conflicting
                if self.stop.wait(wait_s):
                    raise _Stopped from None
                logger.warning("consumer: the batch did not apply (%s); retrying in %.1f s", exc, wait_s)
                wait_s = min(wait_s * 2, _RETRY_MAX_S)
                continue
            t = self.totals
            t.applied += report.applied
            t.duplicates += report.duplicates
            t.collapsed += report.collapsed
            t.flagged += report.flagged
            t.refused += report.refused
            self.metrics.applied.inc(report.applied)
            self.metrics.duplicates.inc(report.duplicates)
            break
        return dead

    def _dead_letter(self, dead: Sequence[tuple[Message, str]]) -> None:
        """Send each message to ``<topic>.dlq`` with its reason and origin; waits for the broker's
        acknowledgement, else raises (the batch is then not committed, and comes again)."""
        if not dead:
            return
        failures: list[str] = []

        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err.str())

        for message, reason in dead:
            logger.warning(
                "consumer: dead letter from %s[%s]@%s: %s",
                message.topic(),
                message.partition(),
                message.offset(),
                reason,
            )
            headers: list[tuple[str, str | bytes | None]] = [
                (REASON_HEADER, reason.encode()),
                ("graphrec-topic", str(message.topic()).encode()),
                ("graphrec-partition", str(message.partition()).encode()),
                ("graphrec-offset", str(message.offset()).encode()),
            ]
            self._dead.produce(
                self.location.dead_letter_topic,
                value=message.value(),
                key=message.key(),
                headers=headers,
                on_delivery=report,
            )
        left = self._dead.flush(30)
        if left or failures:
            raise KafkaException(f"dead letters not acknowledged ({left} left; {failures[:1]})")
        self.totals.dead_letters += len(dead)
        self.metrics.dead_letters.inc(len(dead))

    def _commit(self, messages: Sequence[Message]) -> None:
        """Commit, per partition, past the last message handled (synchronously: it is the point of no
        return). A partition taken away meanwhile refuses the commit: its new owner re-reads the batch and
        the store reports it as duplicates."""
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            key = (str(message.topic()), int(message.partition() or 0))
            last[key] = max(last.get(key, -1), int(message.offset() or 0))
        offsets = [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            logger.warning("consumer: offsets not committed (%s); the batch will be read again, as duplicates", exc)


def _runs_by_client(decoded: list[tuple[Message, StreamedEvent]]) -> list[list[tuple[Message, StreamedEvent]]]:
    """Consecutive messages of one client together (one pipeline batch each: the client goes on the
    edges), in topic order, so every actor's events are applied in the order they were accepted."""
    runs: list[list[tuple[Message, StreamedEvent]]] = []
    for pair in decoded:
        if runs and runs[-1][0][1].client == pair[1].client:
            runs[-1].append(pair)
        else:
            runs.append([pair])
    return runs
