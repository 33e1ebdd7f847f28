"""``graphrec experiment``: start, show and stop the online A/B split (recorded in the store, so every API
replica serves it); ``graphrec publish VERSION --canary 10%`` is ``experiment start`` for a new version."""

from __future__ import annotations

import json

import typer

experiment_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Online experiments (A/B tests): split live users between two arms and compare them "
    "(offline evaluation on held-out data is graphrec evaluate).",
)


def parse_share(text: str) -> float:
    """'10%' or '0.1' -> 0.1; exit 2 naming the option otherwise."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        typer.echo(f"error: --share/--canary must be a share between 0 and 1 or a percentage, got {text!r}", err=True)
        raise typer.Exit(2)
    return value


def start_experiment(
    *, experiment_id: str | None, treatment: dict[str, object], share: float, control: dict[str, object] | None = None
) -> None:
    """Validate and record the experiment; the treatment's version must exist here (the API loads it)."""
    from pydantic import ValidationError

    from graphrec import clock
    from graphrec.behaviour.experiments import Experiment
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store
    from graphrec.model.pipeline import resolve_version
    from graphrec.serving.experiments import write_experiment

    settings = Settings()
    started = clock.now_ms()
    with open_store(settings) as store:
        from graphrec.model.pipeline import published_version

        current = published_version(store)
        version = treatment.get("version")
        try:
            if isinstance(version, str):
                treatment["version"] = resolve_version(settings.models_path, version)
            experiment = Experiment.model_validate(
                {
                    "id": experiment_id or f"exp-{started}",
                    "control": control or {"name": "control", "version": current},
                    "treatment": {"name": "treatment", **treatment},
                    "share": share,
                    "started_ms": started,
                }
            )
        except (FileNotFoundError, ValidationError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        write_experiment(store, experiment)
    typer.echo(
        f"experiment {experiment.id} started: {experiment.treatment.name} "
        f"({experiment.treatment.version or experiment.treatment.strategy}) gets {share:.0%} of users, "
        f"{experiment.control.name} ({experiment.control.version or 'current'}) the rest; "
        "report: GET /v1/experiments"
    )


@experiment_app.command("start")
def start_command(
    experiment_id: str | None = typer.Option(None, "--id", help="Name (default exp-<time>)."),
    version: str | None = typer.Option(None, "--version", help="The treatment's model version (default: current)."),
    alpha: float | None = typer.Option(None, "--alpha", help="The treatment's blend weight (embedding share)."),
    strategy: str = typer.Option("blend", "--strategy", help="blend | popular (trending only: a weak arm)."),
    share: str = typer.Option("50%", "--share", help="The treatment's share of users, e.g. 10% or 0.1."),
) -> None:
    """Start splitting users between the current model (control) and a treatment arm."""
    start_experiment(
        experiment_id=experiment_id,
        share=parse_share(share),
        treatment={"version": version, "alpha": alpha, "strategy": strategy},
    )


@experiment_app.command("show")
def show_command() -> None:
    """The running experiment (as recorded in the store)."""
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store
    from graphrec.serving.experiments import read_experiment

    with open_store(Settings()) as store:
        experiment = read_experiment(store)
    typer.echo("no experiment running" if experiment is None else json.dumps(experiment.model_dump(), indent=2))


@experiment_app.command("stop")
def stop_command() -> None:
    """Stop the experiment: every user gets the current model again (the records stay for the report)."""
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store
    from graphrec.serving.experiments import read_experiment, write_experiment

    with open_store(Settings()) as store:
        experiment = read_experiment(store)
        write_experiment(store, None)
    typer.echo("no experiment was running" if experiment is None else f"experiment {experiment.id} stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
