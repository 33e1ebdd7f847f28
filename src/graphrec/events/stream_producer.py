"""Accepted events onto the Kafka topic, acknowledged only once the broker has every one of them.

Why this shape: ``POST /v1/events`` in stream mode answers 202 only when the whole batch is durable in
Kafka (``acks=all``: every in-sync replica has it), so a 202 means the same as on the direct path, "this
will be applied, once". The producer is idempotent (``enable.idempotence``: librdkafka's own retries never
write a message twice or out of order), and each message is keyed by its actor so one actor's events share
a partition and keep their order (:mod:`graphrec.events.envelope`).

A batch whose messages are not all acknowledged within ``GRAPHREC_KAFKA_PRODUCE_TIMEOUT_S`` (or that the
broker refused) fails with :class:`StreamUnavailable`: the API answers 503 with Retry-After. Some of its
messages may be in the topic then; the client's retry sends them again and the consumer, which dedupes by
event id in the same store write as the edges, applies each once. Nothing is acknowledged half.

One background thread serves librdkafka's delivery reports (``poll``) for every batch in flight; each
batch waits on its own future, so concurrent requests never wait for each other's messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from graphrec.config import EventStreamLocation, Settings
from graphrec.events.envelope import encode
from graphrec.events.schema import EventIn

logger = logging.getLogger(__name__)


class StreamUnavailable(Exception):
    """The broker did not acknowledge the whole batch (down, refused, or too slow): retry it later."""


class _Batch:
    """The delivery state of one batch: resolves its future at the last report, or at the first failure."""

    def __init__(self, size: int) -> None:
        self.future: Future[None] = Future()
        self._left = size
        self._lock = threading.Lock()

    def delivered(self, err: KafkaError | None, _msg: Message) -> None:
        with self._lock:
            if self.future.done():  # failed already, or given up by its request (cancelled)
                return
            try:
                if err is not None:
                    self.future.set_exception(StreamUnavailable(f"the broker refused an event: {err.str()}"))
                    return
                self._left -= 1
                if self._left == 0:
                    self.future.set_result(None)
            except InvalidStateError:  # the request gave up between the check and here
                pass


class EventStreamProducer:
    """One idempotent producer per process (API lifespan), with its delivery-report thread."""

    def __init__(self, settings: Settings) -> None:
        location = settings.event_stream_location
        if location is None:
            raise ValueError("GRAPHREC_EVENT_STREAM is not set: events go to the store directly")
        self.location: EventStreamLocation = location
        timeout_ms = int(settings.kafka_produce_timeout_s * 1000)
        config: dict[str, Any] = {
            **settings.kafka_client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,  # a few ms of batching: requests arriving together share broker round trips
            "message.timeout.ms": timeout_ms,  # librdkafka gives up (and reports) when the request does
            "client.id": "graphrec-api",
        }
        self._producer = Producer(config)
        self._timeout_s = settings.kafka_produce_timeout_s
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name="graphrec-kafka-reports", daemon=True)
        self._poller.start()

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def publish(self, events: Sequence[EventIn], *, client: str, accepted_ms: int) -> Future[None]:
        """Queue every event of a batch; the future resolves when the broker acknowledged them all, or
        fails with :class:`StreamUnavailable` (also raised here when the local queue is full)."""
        batch = _Batch(len(events))
        if not events:
            batch.future.set_result(None)
            return batch.future
        try:
            for event in events:
                key, value = encode(event, client=client, accepted_ms=accepted_ms)
                self._producer.produce(self.location.topic, value=value, key=key, on_delivery=batch.delivered)
        except (BufferError, KafkaException) as exc:  # a full local queue, or librdkafka refusing it
            failure = StreamUnavailable(f"the event stream cannot take the batch now: {exc}")
            if not batch.future.done():
                batch.future.set_exception(failure)
            raise failure from None
        return batch.future

    def publish_and_wait(self, events: Sequence[EventIn], *, client: str, accepted_ms: int) -> None:
        """:meth:`publish`, then wait for the acknowledgements (at most the produce timeout, plus a little
        for the report to arrive)."""
        future = self.publish(events, client=client, accepted_ms=accepted_ms)
        try:
            future.result(timeout=self._timeout_s + 1.0)
        except TimeoutError:
            raise StreamUnavailable(f"the broker did not acknowledge the batch in {self._timeout_s:g} s") from None

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def close(self) -> None:
        """Deliver what is queued (bounded by the produce timeout), then stop the report thread and the
        client."""
        left = self._producer.flush(self._timeout_s)
        if left:
            logger.warning("%d event message(s) were not acknowledged at shutdown (their requests answered 503)", left)
        self._stop.set()
        self._poller.join(timeout=5)
        self._producer.close()  # librdkafka's own threads stop too (they reconnect for ever otherwise)
