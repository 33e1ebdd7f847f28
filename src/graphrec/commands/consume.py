"""``graphrec consume``: a consumer-group worker applying the Kafka topic's events to the store.

Thin over :class:`graphrec.events.stream_consumer.EventConsumer`; SIGTERM and SIGINT stop it between
batches (an unfinished batch stays uncommitted and is applied by whoever reads the partition next).
"""

from __future__ import annotations

import json
import logging
import signal
from dataclasses import asdict
from types import FrameType
from typing import Annotated

import typer

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
        report_every_s: Annotated[float, typer.Option(min=0.1, help="how often lag and rate are logged")] = 10.0,
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
        if settings.event_stream_location is None:
            typer.echo("error: GRAPHREC_EVENT_STREAM is not set (kafka://host:port/topic)", err=True)
            raise typer.Exit(code=1)
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
            worker = EventConsumer(
                settings, pipeline, batch_size=batch_size, report_every_s=report_every_s, metrics=metrics
            )

            def stop(_signum: int, _frame: FrameType | None) -> None:
                worker.stop.set()

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            logger.info("consuming %s as group %s", settings.event_stream, settings.kafka_consumer_group)
            totals = worker.run()
        typer.echo(json.dumps(asdict(totals)))
