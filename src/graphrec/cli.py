"""The ``graphrec`` command: thin Typer commands over pure functions.

Each area registers its commands from its own module (``graphrec.commands.*``), so this file only
assembles them; nothing runs at import.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
                  help="graphrec: graph-based collaborative filtering (graph store, GraphSAGE, API).")

COMMAND_MODULES: tuple[str, ...] = (
    "graphrec.commands.store",
    "graphrec.commands.data",
    "graphrec.commands.events",
    "graphrec.commands.training",
    "graphrec.commands.serve",
    "graphrec.commands.cypher",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)
