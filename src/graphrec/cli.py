"""The ``graphrec`` command: thin Typer commands over pure functions.

Each area registers its commands from its own module (``graphrec.commands.*``), so this file only
assembles them; nothing runs at import.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="graphrec: graph-based collaborative filtering (graph store, GraphSAGE, API).",
)

COMMAND_MODULES: tuple[str, ...] = (
    "graphrec.commands.store",
    "graphrec.commands.data",
    "graphrec.commands.events",
    "graphrec.commands.consume",
    "graphrec.commands.behaviour",
    "graphrec.commands.training",
    "graphrec.commands.runs",
    "graphrec.commands.experiments",
    "graphrec.commands.serve",
    "graphrec.commands.cypher",
    "graphrec.commands.tokens",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """The console entry point: the commands, with a store outage reported in one line (exit 3)."""
    from graphrec.graph.errors import StoreUnavailable

    try:
        app()
    except StoreUnavailable as exc:
        typer.echo(
            f"error: {exc}\nIs the graph store running, and does GRAPHREC_GRAPH_URI point at it? "
            "Retry when it is (imports resume where they stopped).",
            err=True,
        )
        raise SystemExit(3) from None
