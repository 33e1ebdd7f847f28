"""``graphrec export``, ``train``, ``evaluate`` (offline evaluation) and ``publish``: thin wrappers over pure
functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from graphrec.data.errors import UserError

if TYPE_CHECKING:
    from graphrec.graph.port import GraphStore


def _read_toml(path: Path | None) -> dict[str, Any]:
    from graphrec.data.config_files import read_toml

    return read_toml(path) if path is not None else {}


def export_command(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Snapshot directory (default DATA_DIR/snapshots/<content hash>)."
    ),
    config: Path | None = typer.Option(None, "--config", help="TOML file with an \\[export] table."),
    since_ms: int | None = typer.Option(None, "--since-ms", help="Only edges with last_ts >= this."),
    until_ms: int | None = typer.Option(None, "--until-ms", help="Only edges with last_ts <= this."),
    category: list[str] = typer.Option([], "--category", help="Keep items in this category (repeatable)."),
    min_user_degree: int | None = typer.Option(None, "--min-user-degree"),
    min_item_degree: int | None = typer.Option(None, "--min-item-degree"),
    k_core: bool = typer.Option(False, "--k-core", help="Iterate the degree filters to a k-core."),
    max_users: int | None = typer.Option(None, "--max-users", help="Sample at most this many users."),
    sampling: str | None = typer.Option(None, "--sampling", help="random | rwr (random walk with restart)."),
    seed: int | None = typer.Option(None, "--seed"),
    pyg: Path | None = typer.Option(
        None,
        "--pyg",
        help="Also save the snapshot as a PyTorch Geometric "
        "HeteroData file (torch.save; load with torch.load(path, weights_only=False)).",
    ),
) -> None:
    """Export the graph (or a subgraph) to a training snapshot directory."""
    from graphrec.config import Settings
    from graphrec.data.config_files import in_file, table, validate_config
    from graphrec.export import ExportConfig, export_snapshot
    from graphrec.graph.factory import open_store

    raw = table(_read_toml(config), "export", path=config)
    overrides = {
        "since_ms": since_ms,
        "until_ms": until_ms,
        "min_user_degree": min_user_degree,
        "min_item_degree": min_item_degree,
        "max_users": max_users,
        "sampling": sampling,
        "seed": seed,
        "categories": category or None,
        "k_core": k_core or None,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    raw.update(given)
    options = {k: "--category" if k == "categories" else "--" + k.replace("_", "-") for k in given}
    cfg = validate_config(ExportConfig, raw, in_file(config, "export", options=options))
    settings = Settings()
    with open_store(settings) as store:
        snapshot = export_snapshot(store, cfg, half_life_days=settings.half_life_days)
    out = output or settings.snapshots_path / snapshot.manifest["content_hash"][:16]
    snapshot.save(out)
    m = snapshot.manifest
    typer.echo(
        f"{out}: {snapshot.n_users:,} users, {snapshot.n_items:,} items, {snapshot.n_edges:,} edges, "
        f"{snapshot.n_categories:,} categories; read {m['edges_read']:,} edges at "
        f"{m['edges_per_second']:,} edges/s; hash {m['content_hash'][:16]}"
    )
    if pyg is not None:
        import torch

        pyg.parent.mkdir(parents=True, exist_ok=True)
        torch.save(snapshot.to_hetero_data(), pyg)
        typer.echo(f"{pyg}: PyTorch Geometric HeteroData (user, interacted, item) + reverse edges")


def train_command(
    config: Path | None = typer.Option(None, "--config", help="TOML run config (training/configs/)."),
    snapshot_dir: Path | None = typer.Option(
        None, "--snapshot", help="Train on a saved snapshot instead of exporting from the store."
    ),
    version: str | None = typer.Option(None, "--version", help="Version name (default: time + hash)."),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress (a bar on a terminal, one line per validation otherwise); only the result.",
    ),
    checkpoint_dir: Path | None = typer.Option(
        None,
        "--checkpoint-dir",
        help="Save a checkpoint every "
        "checkpoint_every epochs here; run again with the same directory, "
        "config and data to resume.",
    ),
    device: str | None = typer.Option(
        None,
        "--device",
        help="auto | cpu | cuda: where training runs "
        "(overrides [train] device; default auto = a GPU when torch sees one).",
    ),
    nproc: int = typer.Option(
        1,
        "--nproc",
        min=1,
        help="Data-parallel training on this many local ranks (gloo on CPU, NCCL on GPUs, one GPU per rank); "
        "rank 0 writes the version. Several machines: run under torchrun instead (README, Scale-out).",
    ),
) -> None:
    """Train GraphSAGE on the store's graph and write a new model version directory."""
    from graphrec.config import Settings
    from graphrec.model.config import TrainConfig
    from graphrec.model.pipeline import load_config, train
    from graphrec.offline.new_user_tuner import NewUserBlendTuner
    from graphrec.recommend.serving_config import ServingConfig
    from graphrec.snapshot import Snapshot

    cfg = load_config(config)
    if device is not None:
        cfg = cfg.model_copy(update={"train": TrainConfig.model_validate(_with_device(cfg.train.model_dump(), device))})
    _check_device(cfg.train.device)
    settings = Settings()
    # new users' blend, by history length; minutes on a large graph, so it reports progress as training does
    new_users = NewUserBlendTuner(ServingConfig.from_settings(settings), progress=not quiet)
    from graphrec.model.distributed import world_size_from_env

    if nproc > 1 or world_size_from_env() > 1:
        from graphrec.commands.distributed_training import train_distributed

        ranked = train_distributed(
            cfg,
            nproc=nproc,
            snapshot_dir=snapshot_dir,
            version=version,
            quiet=quiet,
            checkpoint_dir=checkpoint_dir,
            settings=settings,
        )
        if ranked is None:
            return  # a torchrun rank other than 0: rank 0 reports the version
        out = ranked
    elif snapshot_dir is not None:
        out = train(
            cfg,
            models_path=settings.models_path,
            half_life_days=settings.half_life_days,
            snapshot=Snapshot.load(snapshot_dir),
            version=version,
            progress=not quiet,
            checkpoint_dir=checkpoint_dir,
            new_users=new_users,
        )
    else:
        from graphrec.graph.factory import open_store

        with open_store(settings) as store:
            out = train(
                cfg,
                models_path=settings.models_path,
                half_life_days=settings.half_life_days,
                store=store,
                version=version,
                progress=not quiet,
                checkpoint_dir=checkpoint_dir,
                new_users=new_users,
            )
    metrics = json.loads((out / "metrics.json").read_text())
    typer.echo(f"model version {out.name} written to {out}")
    typer.echo(json.dumps(metrics, indent=2))
    typer.echo(f"publish it with: graphrec publish {out.name}")


def evaluate_command(
    dataset: str = typer.Option(
        "store",
        "--dataset",
        help="movielens:PATH | events:FILE (graphrec generate's CSV) | lightgcn:TRAIN_TXT,TEST_TXT | store",
    ),
    seed: int = typer.Option(0, "--seed"),
    seeds: str | None = typer.Option(
        None,
        "--seeds",
        help="Comma-separated seeds, e.g. 0,1,2: every model on "
        "each seed's split; means, 95% intervals, and GraphSAGE tested against every other model.",
    ),
    output: Path = typer.Option(Path("runs/eval"), "--output", "-o", help="Directory for results.*"),
    config: Path | None = typer.Option(None, "--config", help="TOML with \\[evaluation] (and \\[train]) tables."),
    protocol: str | None = typer.Option(
        None,
        "--protocol",
        help="random | temporal (per-user holdout of edges) | "
        "new-users (whole users held out, served through the API's code from "
        "their first 1, 3, 5, 10 interactions) | cold-items (whole items held out, ranked from their "
        "title and categories against text cosine and popularity).",
    ),
    ratings: str | None = typer.Option(
        None,
        "--ratings",
        help="movielens: implicit (default: every rating, "
        "weight 1) | positive | signed (4-5 stars, weighed as the import does).",
    ),
    models: str | None = typer.Option(None, "--models", help="Comma-separated subset of the models."),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress (one line per model and per GraphSAGE validation when not on a terminal); only the table.",
    ),
    device: str | None = typer.Option(
        None, "--device", help="auto | cpu | cuda for GraphSAGE and MF-BPR (overrides [train] device)."
    ),
) -> None:
    """Offline evaluation: GraphSAGE against the baselines on held-out data; writes results.json/.md and a plot.

    Held-out data, not live traffic: online A/B tests are graphrec experiment.
    """
    from graphrec.config import Settings
    from graphrec.data.config_files import in_file, table, validate_config
    from graphrec.evaluation.report import markdown_table
    from graphrec.export import ExportConfig
    from graphrec.offline.runner import EvalConfig, run_evaluation
    from graphrec.recommend.serving_config import ServingConfig

    raw = _read_toml(config)
    evaluation = table(raw, "evaluation", path=config)
    if "train" in raw:
        evaluation["graphsage"] = table(raw, "train", path=config)
    evaluation.update(dataset=dataset, seed=seed)
    options = {"dataset": "--dataset", "seed": "--seed"}
    if seeds:
        try:
            evaluation["seeds"] = [int(x) for x in seeds.split(",") if x.strip()]
        except ValueError:
            raise UserError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    if protocol:
        evaluation["protocol"] = protocol
    if ratings:
        evaluation["ratings"] = ratings
    if models:
        evaluation["models"] = [m.strip() for m in models.split(",") if m.strip()]
    if quiet:
        evaluation["progress"] = False
    given = {"seeds": seeds, "protocol": protocol, "ratings": ratings, "models": models, "graphsage.device": device}
    options.update({k: f"--{k.rpartition('.')[2]}" for k, v in given.items() if v is not None})
    if device is not None:
        evaluation["graphsage"] = _with_device(dict(evaluation.get("graphsage", {})), device)
    # the file's [train] table is EvalConfig's graphsage field, its [evaluation] table the rest
    names = in_file(
        config,
        lambda loc: ("train", *loc[1:]) if loc[:1] == ("graphsage",) else ("evaluation", *loc),
        options=options,
    )
    cfg = validate_config(EvalConfig, evaluation, names)
    _check_device(cfg.graphsage.device)
    snapshot = None
    from graphrec.graph.neo4j_store import Neo4jStore

    settings = Settings()
    serving = ServingConfig.from_settings(settings)  # the new-user protocol serves with the API's settings
    on_neo4j = settings.graph_location.kind == "neo4j"
    own_report = cfg.protocol in ("new-users", "cold-items")  # own reports, no GDS row
    if dataset != "store" and not (on_neo4j and cfg.gds and not own_report):
        try:
            rows = run_evaluation(cfg, output, serving=serving)
        except ValueError as exc:  # a data set the protocol cannot use, or too few users to hold out
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    else:
        from graphrec.export import export_snapshot
        from graphrec.graph.factory import open_store

        with open_store(settings) as store:
            if dataset == "store":
                export = validate_config(ExportConfig, table(raw, "export", path=config), in_file(config, "export"))
                snapshot = export_snapshot(store, export, half_life_days=settings.half_life_days)
            gds = store.gds() if isinstance(store, Neo4jStore) and cfg.gds and not own_report else None
            if on_neo4j and cfg.gds and gds is None and not own_report:
                typer.echo("note: this Neo4j has no Graph Data Science plugin: no GDS-FastRP-kNN row", err=True)
            rows = run_evaluation(cfg, output, snapshot=snapshot, gds=gds, serving=serving)
    if own_report:
        typer.echo((output / "results.md").read_text())
        versions = f"; versions: {output / 'versions'}" if cfg.protocol == "new-users" else ""
        typer.echo(f"results: {output / 'results.json'}, {output / 'results.md'}{versions}")
        return
    typer.echo(markdown_table([{k: v for k, v in r.items() if not k.endswith(("@10", "@10 ±"))} for r in rows]))
    paired = json.loads((output / "results.json").read_text())["meta"].get("paired_tests_table")
    if paired:
        typer.echo(f"\n{paired}")
    written = [output / n for n in ("results.json", "results.md", "validation.png", "per_user.npz")]
    typer.echo("\nresults: " + ", ".join(str(p) for p in written if p.exists()))  # the plot only if drawn


def _with_device(train: dict[str, Any], device: str) -> dict[str, Any]:
    """``train`` (a ``[train]`` table) with ``device`` set, or a :class:`UserError` naming the option."""
    from typing import get_args

    from graphrec.model.config import TrainConfig

    allowed = get_args(TrainConfig.model_fields["device"].annotation)
    if device not in allowed:
        raise UserError(f"--device must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {device!r}")
    return {**train, "device": device}


def _check_device(device: Literal["auto", "cpu", "cuda"]) -> None:
    """Fail before any export or training when the device cannot be had (a missing GPU is not a CPU run)."""
    from graphrec.model.config import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _served_version(store: GraphStore, models_path: Path) -> str | None:
    """The version the store serves, if its directory is here."""
    from graphrec.model.pipeline import published_version

    name = published_version(store)
    return name if name and (models_path / name / "manifest.json").exists() else None


def compare_command(
    candidate: str = typer.Argument("latest", help="The candidate version (a name, or 'latest')."),
    against: str = typer.Option(
        "current", "--against", help="The version to beat: 'current' (the one the store serves) or a version name."
    ),
    k: int = typer.Option(20, "--k", min=1, help="List length of Recall@k and NDCG@k."),
    as_json: bool = typer.Option(False, "--json", help="The comparison as JSON."),
) -> None:
    """Both versions on the candidate's held-out interactions: the difference with its 95% interval."""
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store
    from graphrec.model.gate import compare_versions
    from graphrec.model.pipeline import resolve_version

    settings = Settings()
    name = resolve_version(settings.models_path, candidate)  # failures: one line (commands.failures)
    if against == "current":
        with open_store(settings) as store:
            served = _served_version(store, settings.models_path)
        if served is None:
            raise UserError("no version is published yet: nothing to compare against (name one with --against)")
    else:
        served = resolve_version(settings.models_path, against)
    result = compare_versions(settings.models_path / name, settings.models_path / served, k=k)
    typer.echo(json.dumps(result.as_dict(), default=float) if as_json else result.report())


def publish_command(
    version: str = typer.Argument("latest", help="A version directory name, or 'latest'."),
    if_better: bool = typer.Option(
        False,
        "--if-better",
        help="Publish only if the version beats the served one "
        "on its held-out interactions (graphrec compare), beyond the noise.",
    ),
    canary: str | None = typer.Option(
        None,
        "--canary",
        help="Serve the version to this share of users only "
        "(e.g. 10%) as an experiment against the current one; nothing else changes "
        "until `graphrec experiment stop` (see GET /v1/experiments).",
    ),
) -> None:
    """Write a model version's embeddings onto the graph nodes and make it the current version."""
    if canary is not None:
        from graphrec.commands.experiments import parse_share, start_experiment

        start_experiment(experiment_id=None, share=parse_share(canary), treatment={"version": version})
        return
    from graphrec.config import Settings
    from graphrec.graph.factory import open_store
    from graphrec.model.gate import compare_versions
    from graphrec.model.pipeline import publish, resolve_version

    settings = Settings()
    with open_store(settings) as store:  # failures: one line (commands.failures)
        if if_better:
            name = resolve_version(settings.models_path, version)
            served = _served_version(store, settings.models_path)
            if served == name:
                typer.echo(f"{name} is already the served version; nothing to do")
                return
            if served is not None:
                result = compare_versions(settings.models_path / name, settings.models_path / served)
                typer.echo(result.report())
                if not result.candidate_wins:
                    typer.echo(f"not published: {name} does not beat {served}; {served} stays current", err=True)
                    raise typer.Exit(1)
        name, users, items = publish(
            store, models_path=settings.models_path, version=version, half_life_days=settings.half_life_days
        )
    typer.echo(
        f"published {name}: {users:,} user and {items:,} item embeddings; the store's current model "
        f"version (and {settings.models_path / 'CURRENT'}) -> {name}"
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
    app.command("compare")(compare_command)
    app.command("publish")(publish_command)
