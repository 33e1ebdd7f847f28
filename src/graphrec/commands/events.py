"""``graphrec ingest`` (replay event logs), ``graphrec reweigh`` and ``graphrec expire-event-ids``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        file: Annotated[Path, typer.Argument(help="event log, JSON Lines (one event object per line)")],
        batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="events per store write")] = 1_000,
    ) -> None:
        """Replay an event log through the ingestion pipeline (validated whole first; exactly once)."""
        from graphrec import clock
        from graphrec.config import Settings
        from graphrec.events.pipeline import build_pipeline
        from graphrec.events.policy import PolicyError, load_policy
        from graphrec.events.replay import ReplayError, replay_file, validate_file
        from graphrec.graph.factory import open_store

        settings = Settings()
        now_ms = clock.now_ms()
        skew_ms = int(settings.events_clock_skew_s * 1000)
        try:
            policy = load_policy(settings.events_policy_path)
            validate_file(file, now_ms=now_ms, skew_ms=skew_ms)  # before touching the store
        except (ReplayError, PolicyError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        with open_store(settings) as store:
            store.apply_schema()
            pipeline = build_pipeline(store, settings, policy=policy)
            try:
                report = replay_file(file, pipeline, now_ms=now_ms, skew_ms=skew_ms, batch_size=batch_size)
            except ReplayError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=1) from None
        out = report.as_dict()
        out.pop("duplicate_ids")
        typer.echo(json.dumps(out))

    @app.command("reweigh")
    def reweigh(
        policy_path: Annotated[Path | None, typer.Option("--policy", help="policy TOML (default: settings)")] = None,
        update_cap: Annotated[
            bool,
            typer.Option("--update-dwell-cap/--keep-dwell-cap", help="recompute the store-wide dwell cap first"),
        ] = False,
        page_size: Annotated[int, typer.Option(min=100, help="edges per page")] = 10_000,
    ) -> None:
        """Recompute every edge weight from its per-type aggregates with the (changed) policy."""
        from graphrec.config import Settings
        from graphrec.events.cleaning import update_dwell_cap
        from graphrec.events.policy import PolicyError, load_policy
        from graphrec.events.reweigh import reweigh as reweigh_store
        from graphrec.graph.factory import open_store

        settings = Settings()
        try:
            policy = load_policy(policy_path or settings.events_policy_path)
        except PolicyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        with open_store(settings) as store:
            cap = update_dwell_cap(store, policy, page_size=page_size) if update_cap else None
            report = reweigh_store(store, policy, page_size=page_size)
        typer.echo(json.dumps({**report.as_dict(), "dwell_cap_s": cap}))

    @app.command("expire-event-ids")
    def expire_event_ids() -> None:
        """Forget seen event ids older than GRAPHREC_EVENT_ID_RETENTION_DAYS (duplicate-detection window)."""
        from graphrec import clock
        from graphrec.config import Settings
        from graphrec.graph.factory import open_store

        settings = Settings()
        before = clock.now_ms() - int(settings.event_id_retention_days * clock.DAY_MS)
        with open_store(settings) as store:
            n = store.expire_event_ids(before_ms=before)
        typer.echo(json.dumps({"expired": n, "before_ms": before}))
