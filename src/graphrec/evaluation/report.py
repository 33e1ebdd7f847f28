"""Results tables (Markdown + JSON), the validation-curve plot and the per-user metrics of an evaluation run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

PRIMARY = ("model", "recall@20", "ndcg@20")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """GitHub Markdown table; columns are the union of row keys, primary ones first."""
    columns = [c for c in PRIMARY if any(c in r for r in rows)]
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            if isinstance(v, float):
                cells.append(f"{v:.4f}")
            elif isinstance(v, dict):
                cells.append(", ".join(f"{key}={val}" for key, val in v.items()))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def validation_curves(
    histories: dict[str, list[dict[str, float]]],
    *,
    metric: str,
    seeds: dict[str, dict[str, list[dict[str, float]]]] | None = None,
) -> list[tuple[str, str, list[tuple[float, float]]]]:
    """``(model, label, [(epoch, value)])`` of every learning curve the plot draws: one per model, or
    with ``seeds`` (seed -> model -> history) one per model and seed, labelled ``model (seed s)``."""
    per_seed = seeds if seeds else {"": histories}
    curves = []
    for seed, by_model in per_seed.items():
        for name, hist in by_model.items():
            pts = [(h["epoch"], h[metric]) for h in hist if metric in h]
            if pts:
                curves.append((name, f"{name} (seed {seed})" if seed else name, pts))
    return curves


def plot_validation(
    histories: dict[str, list[dict[str, float]]],
    path: Path,
    *,
    metric: str,
    seeds: dict[str, dict[str, list[dict[str, float]]]] | None = None,
) -> Path | None:
    """PNG of ``metric`` per epoch for every model with a learning curve; ``None`` if none has one.

    ``seeds`` (seed -> model -> history, several seeds): every seed's curve is drawn, each model in one
    colour, each seed in its own line style and labelled, so a run of five seeds shows five curves per
    model rather than the last seed's alone; ``histories`` is then not drawn."""
    curves = validation_curves(histories, metric=metric, seeds=seeds)
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    models = list(dict.fromkeys(name for name, _, _ in curves))
    styles = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v")]  # one per seed
    for name in models:  # the legend lists each model's seeds together
        for n, (_, label, pts) in enumerate(c for c in curves if c[0] == name):
            line, marker = styles[n % len(styles)]
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                linestyle=line,
                marker=marker,
                markersize=3,
                color=colours[models.index(name) % len(colours)],
                label=label,
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(
    rows: list[dict[str, Any]],
    output: Path,
    *,
    meta: dict[str, Any],
    histories: dict[str, list[dict[str, float]]],
    metric: str = "recall@20",
    seed_histories: dict[str, dict[str, list[dict[str, float]]]] | None = None,
    per_user: dict[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write ``results.json`` (rows + run metadata), ``results.md``, ``validation.png`` when a model has
    a learning curve (a stale one from an earlier run into ``output`` is removed otherwise, so the
    directory never shows a plot of another run) and, with ``per_user``, ``per_user.npz``: every
    model's per-user metric arrays, so the paired tests can be recomputed (or another test run)
    without evaluating again. Returns the paths written.

    ``seed_histories``: seed -> model -> history of a several-seed run; ``results.json`` keeps them all
    (``histories_per_seed``, instead of one seed's ``histories``) and the plot draws them all."""
    output.mkdir(parents=True, exist_ok=True)
    paths = {"json": output / "results.json", "markdown": output / "results.md"}
    curves = {"histories_per_seed": seed_histories} if seed_histories else {"histories": histories}
    paths["json"].write_text(json.dumps({"results": rows, "meta": meta, **curves}, indent=2, default=float))
    seeds = meta.get("seed")
    seed_text = f"seeds {', '.join(map(str, seeds))}" if isinstance(seeds, list) else f"seed {seeds}"
    header = f"# Evaluation: {meta.get('dataset')} ({meta.get('protocol')}, {seed_text})\n\n"
    footer = f"\n{meta['paired_tests_table']}\n" if meta.get("paired_tests_table") else ""
    paths["markdown"].write_text(header + markdown_table(rows) + "\n" + footer)
    plot = plot_validation(histories, output / "validation.png", metric=metric, seeds=seed_histories)
    if plot is not None:
        paths["plot"] = plot
    else:
        (output / "validation.png").unlink(missing_ok=True)
    if per_user:
        paths["per_user"] = output / "per_user.npz"
        arrays: dict[str, Any] = dict(per_user)  # names of arrays, not savez's own keywords
        np.savez_compressed(paths["per_user"], **arrays)
    else:
        (output / "per_user.npz").unlink(missing_ok=True)
    return paths
