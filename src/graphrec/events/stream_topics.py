"""The events topic and its dead-letter topic, created when missing (``graphrec consume --partitions``).

Why here and not left to the broker's auto-creation: the partition count is the most consumers that can
share the work, and a topic created by the first produce gets the broker's default (often 1); creating
both topics up front says it once. Existing topics are left as they are (partitions only grow, by hand).
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from graphrec.config import Settings


def ensure_topics(settings: Settings, *, partitions: int, replication: int = 1, timeout_s: float = 30.0) -> list[str]:
    """Create the events topic and ``<topic>.dlq`` where missing; returns the names created."""
    location = settings.event_stream_location
    if location is None:
        raise ValueError("GRAPHREC_EVENT_STREAM is not set")
    admin = AdminClient(settings.kafka_client_config())
    wanted = [location.topic, location.dead_letter_topic]
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [name for name in wanted if name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication) for name in missing],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:  # another worker created it meanwhile: that is fine
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created
