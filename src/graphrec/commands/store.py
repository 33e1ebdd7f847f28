"""``graphrec init``, ``graphrec stats`` and ``graphrec store start|stop|status``."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from graphrec.config import Settings
    from graphrec.graph.embedded import EmbeddedServer
    from graphrec.graph.port import GraphStore

store_app = typer.Typer(no_args_is_help=True, help="Manage the embedded FalkorDB server.")


def _embedded(settings: Settings) -> EmbeddedServer:
    if settings.graph_location.kind != "embedded":
        typer.echo(f"GRAPHREC_GRAPH_URI is {settings.graph_uri}: not the embedded store; nothing to manage.", err=True)
        raise typer.Exit(2)
    from graphrec.graph.factory import embedded_server

    return embedded_server(settings)


@store_app.command("start")
def store_start() -> None:
    """Start the embedded store and keep it running until `graphrec store stop`."""
    from graphrec.config import Settings

    settings = Settings()
    info = _embedded(settings).acquire(pinned=True)
    typer.echo(f"embedded FalkorDB running: pid {info.pid}, socket {info.socket}, data {settings.embedded_dir}")


@store_app.command("stop")
def store_stop() -> None:
    """Stop the embedded store (acknowledged writes are already on disk)."""
    from graphrec.config import Settings

    settings = Settings()
    stopped = _embedded(settings).stop()
    typer.echo("embedded FalkorDB stopped" if stopped else "embedded FalkorDB was not running")


@store_app.command("status")
def store_status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Say whether the embedded store runs, where, and who uses it."""
    from graphrec.config import Settings

    settings = Settings()
    server = _embedded(settings)
    info = server.info()
    status = {
        "running": info is not None,
        "data_dir": str(settings.embedded_dir),
        "pid": info.pid if info else None,
        "socket": info.socket if info else None,
        "pinned": info.pinned if info else None,
        "clients": len(server.live_leases()),
    }
    if as_json:
        typer.echo(json.dumps(status))
    elif info is None:
        typer.echo(f"embedded FalkorDB is not running (data dir {settings.embedded_dir})")
    else:
        typer.echo(
            f"embedded FalkorDB running: pid {info.pid}, socket {info.socket}, "
            f"{'pinned' if info.pinned else 'on demand'}, {status['clients']} client(s)"
        )


def init(reset: bool = typer.Option(False, "--reset", help="Delete every node and edge first.")) -> None:
    """Create the graph schema (indexes, constraints) in the configured store."""
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store

    settings = Settings()
    with open_store(settings) as store:
        if reset:
            store.clear()
        store.apply_schema()
    typer.echo(f"schema applied to {settings.graph_uri}" + (" (graph reset)" if reset else ""))


def stats(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Counts of users, items, categories and interactions."""
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store

    with open_store(Settings()) as store:
        counts = store.counts()
    if as_json:
        typer.echo(json.dumps(asdict(counts)))
    else:
        for name, value in asdict(counts).items():
            typer.echo(f"{name:<13}{value:>12,}")


def bad_ids(store: GraphStore) -> dict[str, list[tuple[str, str]]]:
    """Users and items already in the store whose ids break the id rule (written before it existed,
    or by another writer): ``{"User": [(id, problem), ...], "Item": [...]}``."""
    from graphrec.ids import id_problem

    found: dict[str, list[tuple[str, str]]] = {"User": [], "Item": []}
    user_ids = (u.id for page in store.iter_users() for u in page)
    item_ids = (i for page in store.iter_items() for i in page.ids)
    for label, ids in (("User", user_ids), ("Item", item_ids)):
        for node_id in ids:
            nfc = unicodedata.normalize("NFC", node_id)
            problem = id_problem(nfc) or ("is not NFC-normalised" if nfc != node_id else None)
            if problem is not None:
                found[label].append((node_id, problem))
    return found


def doctor(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Check the store's data: ids that break the id rule. Exit 1 when something is found."""
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store
    from graphrec.ids import ID_RULE

    with open_store(Settings()) as store:
        found = bad_ids(store)
    total = sum(len(v) for v in found.values())
    if as_json:
        typer.echo(json.dumps({"bad_ids": {k: [{"id": i, "problem": p} for i, p in v] for k, v in found.items()}}))
    else:
        typer.echo(f"ids: {ID_RULE}")
        for label, rows in found.items():
            typer.echo(f"{label}: {len(rows)} id(s) break the rule")
            for node_id, problem in rows[:20]:
                typer.echo(f"  {node_id!r}: {problem}")
        if total:
            typer.echo("fix: merge each into its valid spelling (POST /v1/users/{id}/merge) or erase it", err=True)
    if total:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("doctor")(doctor)
    app.command("stats")(stats)
    app.add_typer(store_app, name="store")
