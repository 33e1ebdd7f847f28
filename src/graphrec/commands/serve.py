"""``graphrec serve``: run the API (``api.main``) under uvicorn."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer


def serve(
    host: str = "127.0.0.1", port: int = 8000, *, log_level: str | None = None, workers: int | None = None
) -> None:
    """Run the API until interrupted (JSON logs with request ids); options override the settings.

    One worker runs in this process, on the settings read here. Several run as child processes, each
    with its own ``SO_REUSEPORT`` socket (``graphrec.commands.workers``) and its own app built from the
    environment (``api.main:create_worker_app``), so the overrides travel as ``GRAPHREC_*`` variables.
    """
    import uvicorn

    from graphrec.config import Settings

    if log_level is not None:
        os.environ["GRAPHREC_LOG_LEVEL"] = log_level.lower()
    if workers is not None:
        os.environ["GRAPHREC_API_WORKERS"] = str(workers)
    settings = Settings()
    if settings.api_workers == 1:
        from api.main import create_logged_app
        from api.server import server_config

        uvicorn.Server(server_config(create_logged_app(settings), settings, host=host, port=port)).run()
    else:
        from api.observability import configure_json_logging
        from graphrec.commands.workers import run_workers

        configure_json_logging(getattr(logging, settings.log_level.upper()))
        raise typer.Exit(run_workers(host, port, workers=settings.api_workers, log_level=settings.log_level))


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        log_level: Annotated[
            str | None, typer.Option(help="debug | info | warning | error (default GRAPHREC_LOG_LEVEL)")
        ] = None,
        workers: Annotated[
            int | None, typer.Option(min=1, max=64, help="worker processes (default GRAPHREC_API_WORKERS, 1)")
        ] = None,
    ) -> None:
        """Serve the recommendation API (loads the CURRENT model, hot-swaps new ones)."""
        serve(host, port, log_level=log_level, workers=workers)
