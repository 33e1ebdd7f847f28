"""The ``graphrec`` command: thin Typer commands over pure functions.

Each area registers its commands from its own module (``graphrec.commands.*``), so this file only
assembles them; nothing runs at import. How every command fails is decided once, by the root group
(:mod:`graphrec.commands.failures`).
"""

from __future__ import annotations

import importlib

import typer

from graphrec.commands.failures import FailingInOneLine
from graphrec.commands.process_exit import leave_heap_to_the_os

app = typer.Typer(
    cls=FailingInOneLine,
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
    "graphrec.commands.neo4j",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """The console entry point (failures: one line, exit 2 or 3; :mod:`graphrec.commands.failures`)."""
    try:
        app()
    finally:
        leave_heap_to_the_os()  # the command is done, whichever way: exit without collecting the heap
