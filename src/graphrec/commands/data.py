"""``graphrec import`` and ``graphrec generate``."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import typer

from graphrec.data.choices import DEFAULT_END, DEFAULT_MIX, FORMATS, RATING_MODES


def import_command(
    path: Path = typer.Argument(..., help="File or directory to import."),
    fmt: str = typer.Option(..., "--format", "-f", help=f"One of: {', '.join(FORMATS)}."),
    items: Path | None = typer.Option(None, "--items", help="Item catalogue CSV (events format)."),
    ratings: str = typer.Option(
        "signed",
        "--ratings",
        help="MovieLens formats: signed (stars centred on 3, "
        "dislikes kept as negative edges) | positive (4 and 5 stars only) | implicit "
        "(every rating a view of equal weight).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import interactions (validated whole before anything is written; re-importing is a no-op)."""
    from tqdm import tqdm

    from graphrec.config import Settings
    from graphrec.data.importer import import_dataset
    from graphrec.data.ratings import check_mode
    from graphrec.data.readers import read_dataset
    from graphrec.data.weighing import weigher_for
    from graphrec.events.log import EventLog
    from graphrec.graph.factory import open_store

    if fmt not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}, got {fmt!r}", err=True)
        raise typer.Exit(2)
    if ratings not in RATING_MODES:
        typer.echo(f"error: --ratings must be one of {', '.join(RATING_MODES)}, got {ratings!r}", err=True)
        raise typer.Exit(2)
    settings = Settings()
    dataset = read_dataset(fmt, path, items_path=items, ratings=check_mode(ratings))  # bad input: one line, exit 2
    with (
        open_store(settings) as store,
        tqdm(total=dataset.events.num_rows, unit=" edges", desc="import", disable=None, leave=False) as bar,
    ):
        # a mode changes what is written, so it is part of the import's identity (ledger key)
        label = fmt if not fmt.startswith("movielens") or ratings == "signed" else f"{fmt}:{ratings}"
        weigher = weigher_for(store, settings)
        report = import_dataset(
            store,
            dataset,
            fmt=label,
            weigher=weigher,
            batch_size=settings.batch_size,
            progress=bar.update,
            log=EventLog(settings.event_log_file),
            weight_cap=weigher.weight_cap,
        )
        counts = store.counts()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "events": report.events,
                    "interactions": report.interactions,
                    "already_imported": report.already_imported,
                    "seconds": round(report.seconds, 3),
                    "counts": asdict(counts),
                }
            )
        )
        return
    if report.already_imported:
        typer.echo(f"{path}: already imported (same content); nothing changed")
    else:
        typer.echo(
            f"{path}: {report.events:,} events -> {report.interactions:,} interactions "
            f"({report.users:,} users, {report.items:,} catalogue items) in {report.seconds:.1f}s"
            + (f"; resumed after {report.batches_skipped} committed batches" if report.batches_skipped else "")
        )
    typer.echo(
        f"graph: {counts.users:,} users, {counts.items:,} items, {counts.categories:,} categories, "
        f"{counts.interactions:,} interactions"
    )


_DEFAULT_MIX_TEXT = ",".join(f"{name}={share:g}" for name, share in DEFAULT_MIX.items())


def _parse_end(value: str) -> datetime:
    if value == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected ISO-8601 date or 'now', got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def generate_command(
    interactions: int = typer.Option(
        ..., "--interactions", "-n", min=1_000, max=10_000_000, help="Event rows to write (1k..10M)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Events CSV to write."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same file)."),
    users: int | None = typer.Option(None, "--users", min=1, help="Default: interactions / 33."),
    items: int | None = typer.Option(None, "--items", min=1, help="Default: interactions / 25."),
    categories: int = typer.Option(20, "--categories", min=1, max=20),
    days: int = typer.Option(90, "--days", min=1, max=3650),
    end: str = typer.Option(DEFAULT_END.date().isoformat(), "--end", help="Last event time (ISO date or 'now')."),
    mix: str = typer.Option(
        _DEFAULT_MIX_TEXT, "--mix", help="Behavioural types and their shares of users (regular=1: ordinary users only)."
    ),
) -> None:
    """Write a synthetic events CSV (with sessions and devices), its item catalogue and each user's behavioural
    type (``<name>.users.csv``) for demos, tests, benchmarks and checking ``graphrec segment``."""
    from tqdm import tqdm

    from graphrec.data.synthetic import SyntheticSpec, generate, parse_mix

    try:
        shares = parse_mix(mix)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mix") from None
    spec = SyntheticSpec(
        interactions=interactions,
        seed=seed,
        users=users,
        items=items,
        categories=categories,
        days=days,
        end=_parse_end(end),
        mix=shares,
    )
    with tqdm(total=interactions, unit=" events", desc="generate", disable=None, leave=False) as bar:
        report = generate(spec, output, progress=bar.update)
    typer.echo(
        f"wrote {report.events:,} events for {report.users:,} users x {report.items:,} items to "
        f"{report.events_path} (catalogue: {report.items_path}; users' types: {report.users_path}, "
        + ", ".join(f"{n:,} {t}" for t, n in report.types.items())
        + ")"
    )
    typer.echo(f"import it with: graphrec import --format events {report.events_path}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("generate")(generate_command)
