"""``graphrec consume``: a consumer-group worker applying the Kafka topic's events to the store; ``graphrec
topics``: create the topics it reads and writes, once, before the API produces (a deployment's one-shot step).

Thin over :class:`graphrec.events.stream_consumer.EventConsumer`; SIGTERM and SIGINT stop it between
batches (an unfinished batch stays uncommitted and is applied by whoever reads the partition next).

The worker's pipeline gets the listeners the API gives its own (:func:`listen_for_the_api`): what the API
does after it applied a batch itself happens for streamed events too, once per event.
"""

from __future__ import annotations

import json
import logging
import signal
from dataclasses import asdict
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from graphrec.config import EventStreamLocation, Settings
    from graphrec.events.pipeline import EventPipeline

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("consume")
    def consume(
        batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="messages read per store write")] = 500,
        partitions: Annotated[
            int, typer.Option(min=1, max=10_000, help="partitions of the topics when this worker creates them")
        ] = 6,
        metrics_port: Annotated[
            int | None, typer.Option(min=1, max=65_535, help="serve Prometheus /metrics (lag, applied) on this port")
        ] = None,
        metrics_host: Annotated[str, typer.Option(help="address the metrics port binds")] = "127.0.0.1",
        report_every_s: Annotated[
            float,
            typer.Option(
                min=0.1, help="how often the lag is read (its own thread and client) and logged with the rate"
            ),
        ] = 10.0,
    ) -> None:
        """Apply the events of GRAPHREC_EVENT_STREAM to the store (consumer group GRAPHREC_KAFKA_CONSUMER_GROUP)."""
        from prometheus_client import start_http_server

        from graphrec.config import Settings
        from graphrec.events.pipeline import build_pipeline
        from graphrec.events.policy import PolicyError, load_policy
        from graphrec.events.stream_consumer import ConsumerMetrics, EventConsumer
        from graphrec.events.stream_topics import ensure_topics
        from graphrec.graph.factory import open_store

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        settings = Settings()
        _stream_or_exit(settings)
        try:
            policy = load_policy(settings.events_policy_path)
        except PolicyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        created = ensure_topics(settings, partitions=partitions)
        if created:
            logger.info("created topics %s with %d partitions", created, partitions)
        metrics = ConsumerMetrics()
        if metrics_port is not None:
            start_http_server(metrics_port, addr=metrics_host, registry=metrics.registry)
        with open_store(settings) as store:
            store.apply_schema()
            pipeline = build_pipeline(store, settings, policy=policy)
            listen_for_the_api(pipeline, settings)
            worker = EventConsumer(
                settings, pipeline, batch_size=batch_size, report_every_s=report_every_s, metrics=metrics
            )

            def stop(_signum: int, _frame: FrameType | None) -> None:
                worker.stop.set()

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            logger.info(
                "consuming %s as group %s; event log %s (feedback attribution%s)",
                settings.event_stream,
                settings.kafka_consumer_group,
                settings.event_log_file,
                ", trigger marks" if settings.triggers_on else "",
            )
            totals = worker.run()
        typer.echo(json.dumps(asdict(totals)))

    @app.command("topics")
    def topics(
        partitions: Annotated[
            int,
            typer.Option(
                min=1, max=10_000, help="partitions of each topic created (the most consumers that share the work)"
            ),
        ] = 6,
        replication: Annotated[int, typer.Option(min=1, max=32, help="replicas of each topic created")] = 1,
    ) -> None:
        """Create the events topic of GRAPHREC_EVENT_STREAM and its dead-letter topic where missing, then exit."""
        from graphrec.config import Settings
        from graphrec.events.stream_topics import ensure_topics

        settings = Settings()
        location = _stream_or_exit(settings)
        created = ensure_topics(settings, partitions=partitions, replication=replication)
        for name in (location.topic, location.dead_letter_topic):
            typer.echo(f"{name}: {'created' if name in created else 'exists'}")


def _stream_or_exit(settings: Settings) -> EventStreamLocation:
    location = settings.event_stream_location
    if location is None:
        typer.echo("error: GRAPHREC_EVENT_STREAM is not set (kafka://host:port/topic)", err=True)
        raise typer.Exit(code=1)
    return location


def listen_for_the_api(pipeline: EventPipeline, settings: Settings) -> None:
    """Give a consumer's pipeline what the API's pipeline runs after each applied batch (``api.container``),
    in the form another process can run: outcomes attributed into the feedback tables of the event log's
    file (where the API looks them up for ``GET /v1/feedback``), and, when trigger webhooks are configured,
    the batch's users marked in that file for the API's trigger worker (which holds the webhook delivery).
    Neither counts twice: attribution is idempotent per event id, and a user marked again by a redelivered
    batch fires no rule it had already crossed (rules are edge-triggered). Both need the API's file: point
    ``GRAPHREC_EVENT_LOG`` of the API and of every consumer at one file on storage they share."""
    from graphrec.behaviour.trigger_marks import TriggerMarks
    from graphrec.events.feedback import FeedbackLog

    log = pipeline.log
    if log is None:
        return
    pipeline.listeners.append(FeedbackLog(log.path, tombstones=pipeline.tombstones).attribute_logged)
    if settings.triggers_on:
        pipeline.listeners.append(TriggerMarks(log.path).mark)
