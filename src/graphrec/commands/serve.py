"""``graphrec serve``: run the API (``api.main:create_app``) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info") -> None:
    """Run the API in this process until interrupted (JSON logs with request ids)."""
    import logging

    import uvicorn

    from api.main import create_app
    from api.observability import configure_json_logging
    from graphrec.config import Settings

    configure_json_logging(getattr(logging, log_level.upper(), logging.INFO))
    app = create_app(Settings())
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, log_level=log_level)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        log_level: Annotated[str, typer.Option(help="debug | info | warning")] = "info",
    ) -> None:
        """Serve the recommendation API (loads the CURRENT model, hot-swaps new ones)."""
        serve(host, port, log_level=log_level)
