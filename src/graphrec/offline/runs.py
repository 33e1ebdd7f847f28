"""Training runs side by side: what each model version was trained on, how, and how it did.

A run is a model version directory (``graphrec train`` writes one per run): ``config.json``,
``metrics.json`` and ``manifest.json`` (snapshot, per-epoch history) are read as they are; nothing
is retrained. :func:`compare_runs` writes a Markdown table of the settings that differ and the
metrics, and three plots: loss and validation curves per epoch, metric bars, and popularity bias
(how much of the catalogue each model recommends, and how popular what it recommends is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graphrec.data.errors import InputError, UserError
from graphrec.model.artifact import ModelArtifact, unreadable
from graphrec.model.pipeline import list_versions

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# the metrics shown first in tables and bars, when a run has them
KEY_METRICS: tuple[str, ...] = (
    "validation_recall@20",
    "test_recall@20",
    "test_ndcg@20",
    "best_epoch",
    "seconds_per_epoch",
    "train_seconds",
)


@dataclass
class Run:
    """One model version as stored: its settings (flattened), metrics and per-epoch history."""

    version: str
    directory: Path
    created_ms: int
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            flat.update(_flatten(item, name + "."))
        else:
            flat[name] = item
    return flat


def _json_object(path: Path) -> dict[str, Any]:
    """A version's JSON file as a dict, or an :class:`InputError` naming the file (missing or damaged)."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path.parent, None, f"not a model version (missing {path.name})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            path, None, f"damaged ({unreadable(path, exc)}): train the version again or remove it"
        ) from None
    if not isinstance(value, dict):
        raise InputError(path, None, "damaged (not a JSON object): train the version again or remove it")
    return value


def load_run(directory: Path) -> Run:
    """Read a version directory's json files (not its arrays); a missing or damaged file is an
    :class:`InputError` naming it."""
    manifest = _json_object(directory / "manifest.json")
    config = _json_object(directory / "config.json")
    metrics = _json_object(directory / "metrics.json")
    return Run(
        version=directory.name,
        directory=directory,
        created_ms=int(manifest.get("created_ms", 0)),
        config=_flatten(config),
        metrics=metrics,
        history=list(manifest.get("history", [])),
        snapshot=dict(manifest.get("snapshot", {})),
    )


def list_runs(models_path: Path) -> list[Run]:
    """Every version under ``models_path``, oldest first."""
    return [load_run(models_path / name) for name in list_versions(models_path)]


def resolve_runs(models_path: Path, names: list[str]) -> list[Run]:
    """Versions by name (``latest`` for the newest) or by directory path."""
    runs = []
    for name in names:
        path = Path(name)
        if path.is_dir() and (path / "manifest.json").exists():
            runs.append(load_run(path))
            continue
        versions = list_versions(models_path)
        if name == "latest" and versions:
            name = versions[-1]
        if name not in versions:
            raise UserError(f"no model version {name!r} under {models_path} (graphrec runs lists them)")
        runs.append(load_run(models_path / name))
    return runs


def summary_row(run: Run, *, current: str | None = None) -> dict[str, Any]:
    """The one-line view of a run that ``graphrec runs`` prints. ``current``: whether it is the version
    named ``current`` (the served one), a field of its own so ``version`` stays a name a script can
    pass back to ``graphrec compare`` or ``publish``."""
    row: dict[str, Any] = {
        "version": run.version,
        "current": run.version == current,
        "edges": run.metrics.get("n_edges", run.snapshot.get("n_edges")),
        "layers": run.config.get("encoder.layers"),
        "dim": run.config.get("encoder.dim"),
    }
    for key in KEY_METRICS:
        if key in run.metrics:
            row[key] = run.metrics[key]
    return row


def differing_settings(runs: list[Run]) -> list[str]:
    """Config keys whose values are not the same in every run (seed included): what the comparison is about."""
    keys = sorted(set().union(*(r.config for r in runs)))
    return [k for k in keys if len({json.dumps(r.config.get(k), sort_keys=True) for r in runs}) > 1]


@dataclass(frozen=True)
class PopularityBias:
    """Of the top-``k`` lists of a sample of users: the catalogue share they cover, and the mean
    training-popularity percentile of the recommended items (0.5 = no bias, near 1 = bestsellers)."""

    coverage: float
    mean_popularity_percentile: float


def popularity_bias(artifact: ModelArtifact, *, k: int = 20, users: int = 2_000, seed: int = 0) -> PopularityBias:
    """Measured from the version's own embeddings and training degrees (no store, no test data).

    The lists include the users' training items (the artifact keeps degrees, not edges), which
    lifts the popularity of every model alike: compare runs with each other, not with the table of
    ``graphrec evaluate``."""
    rng = np.random.default_rng(seed)
    n_users, n_items = len(artifact.user_ids), len(artifact.item_ids)
    sample = rng.choice(n_users, size=min(users, n_users), replace=False)
    scores = artifact.user_embeddings[sample] @ artifact.item_embeddings.T
    k = min(k, n_items)
    top = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
    percentile = np.argsort(np.argsort(artifact.item_degree, kind="stable"), kind="stable") / max(n_items - 1, 1)
    return PopularityBias(
        coverage=float(len(np.unique(top)) / n_items), mean_popularity_percentile=float(percentile[top].mean())
    )


def compare_runs(runs: list[Run], output: Path) -> dict[str, Path]:
    """Write ``compare.md``, ``curves.png``, ``metrics.png`` and ``popularity.png`` under ``output``."""
    from graphrec.evaluation.report import markdown_table

    if len(runs) < 2:
        raise UserError("compare needs at least two runs")
    output.mkdir(parents=True, exist_ok=True)
    differing = differing_settings(runs)
    bias = {r.version: popularity_bias(ModelArtifact.load(r.directory)) for r in runs}
    rows = []
    for run in runs:
        row: dict[str, Any] = {"version": run.version}
        row.update({key: run.config.get(key) for key in differing})
        row.update({key: run.metrics[key] for key in KEY_METRICS if key in run.metrics})
        row["coverage@20"] = bias[run.version].coverage
        row["popularity_percentile@20"] = bias[run.version].mean_popularity_percentile
        rows.append(row)
    paths = {"markdown": output / "compare.md"}
    paths["markdown"].write_text(
        "# Runs compared\n\n"
        + (
            "Settings that differ: " + ", ".join(f"`{k}`" for k in differing)
            if differing
            else "All settings are equal (the runs differ in their data or randomness only)."
        )
        + "\n\n"
        + markdown_table(rows)
        + "\n"
    )
    paths.update(_plots(runs, rows, output))
    (output / "compare.json").write_text(json.dumps({"runs": rows, "differing": differing}, indent=2, default=float))
    paths["json"] = output / "compare.json"
    return paths


def _plots(runs: list[Run], rows: list[dict[str, Any]], output: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    paths: dict[str, Path] = {}
    fig, (loss_ax, val_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for run in runs:
        epochs = [h for h in run.history if "loss" in h]
        loss_ax.plot([h["epoch"] for h in epochs], [h["loss"] for h in epochs], label=run.version)
        val = [h for h in run.history if any(k.startswith("recall@") for k in h)]
        if val:
            key = next(k for k in val[0] if k.startswith("recall@"))
            val_ax.plot([h["epoch"] for h in val], [h[key] for h in val], marker="o", markersize=3, label=run.version)
            val_ax.set_ylabel(f"validation {key}")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("BPR loss")
    val_ax.set_xlabel("epoch")
    for ax in (loss_ax, val_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths["curves"] = output / "curves.png"
    fig.savefig(paths["curves"], dpi=120)
    plt.close(fig)

    metrics = [
        k
        for k in ("validation_recall@20", "test_recall@20", "test_ndcg@20", "coverage@20")
        if any(k in r for r in rows)
    ]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(metrics) * len(rows) / 2), 4))
    width = 0.8 / len(rows)
    for n, row in enumerate(rows):
        ax.bar(
            np.arange(len(metrics)) + n * width,
            [float(row.get(m, np.nan)) for m in metrics],
            width,
            label=row["version"],
        )
    ax.set_xticks(np.arange(len(metrics)) + width * (len(rows) - 1) / 2, metrics)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    paths["metrics"] = output / "metrics.png"
    fig.savefig(paths["metrics"], dpi=120)
    plt.close(fig)

    fig = popularity_figure(rows)
    paths["popularity"] = output / "popularity.png"
    fig.savefig(paths["popularity"], dpi=120)
    plt.close(fig)
    return paths


def popularity_figure(rows: list[dict[str, Any]]) -> Figure:
    """Coverage against popularity percentile, one point per run, on fixed axes: both are shares, so
    both axes run from 0 to 1, with the percentile's no-bias line at 0.5.

    Why fixed: matplotlib zooms to the points, so two runs 0.003 apart filled the plot's width and
    looked like opposite models; on the whole range a small difference looks small, and each point's
    label carries its values for reading the difference itself."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--", label="no popularity bias (0.5)")
    for row in rows:
        x, y = row["coverage@20"], row["popularity_percentile@20"]
        ax.scatter(x, y, s=40)
        ax.annotate(f"{row['version'][-12:]} ({x:.3f}, {y:.3f})", (x, y), fontsize=7)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("catalogue coverage of top-20 lists")
    ax.set_ylabel("mean popularity percentile of top-20 items")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
