"""``graphrec runs``: list training runs (model versions) and compare them side by side."""

from __future__ import annotations

import json
from pathlib import Path

import typer

runs_app = typer.Typer(
    no_args_is_help=False,
    add_completion=False,
    help="Training runs (model versions), offline: list them, compare them.",
)


@runs_app.callback(invoke_without_command=True)
def list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per run instead of a table."),
) -> None:
    """List every model version with its data size, settings and metrics (* = current)."""
    if ctx.invoked_subcommand is not None:
        return
    from graphrec.config import Settings
    from graphrec.evaluation.report import markdown_table
    from graphrec.model.pipeline import current_version
    from graphrec.offline.runs import list_runs, summary_row

    settings = Settings()
    runs = list_runs(settings.models_path)
    if not runs:
        typer.echo(f"no model versions under {settings.models_path}: run `graphrec train` first", err=True)
        raise typer.Exit(1)
    rows = [summary_row(r, current=current_version(settings.models_path)) for r in runs]
    if as_json:
        typer.echo("\n".join(json.dumps(r, default=float) for r in rows))
    else:  # the table marks the current version with a * column
        typer.echo(markdown_table([{**r, "current": "*" if r["current"] else ""} for r in rows]))


@runs_app.command("compare")
def compare_command(
    versions: list[str] = typer.Argument(
        ..., help="Two or more version names ('latest' allowed) or version directories."
    ),
    output: Path = typer.Option(Path("runs/compare"), "--output", "-o", help="Directory for compare.md and the plots."),
) -> None:
    """Table of differing settings and metrics, plus loss/validation curves, metric bars and popularity bias."""
    from graphrec.config import Settings
    from graphrec.offline.runs import compare_runs, resolve_runs

    settings = Settings()
    paths = compare_runs(resolve_runs(settings.models_path, versions), output)  # failures: commands.failures
    typer.echo(paths["markdown"].read_text())
    typer.echo("written: " + ", ".join(str(p) for p in paths.values()))


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
