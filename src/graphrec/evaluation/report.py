"""Results tables (Markdown + JSON) and the validation-curve plot of an evaluation run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def plot_validation(histories: dict[str, list[dict[str, float]]], path: Path, *, metric: str) -> Path | None:
    """PNG of ``metric`` per epoch for every model with a learning curve; ``None`` if none has one."""
    curves = {name: [(h["epoch"], h[metric]) for h in hist if metric in h] for name, hist in histories.items()}
    curves = {name: pts for name, pts in curves.items() if pts}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in curves.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.grid(alpha=0.3)
    ax.legend()
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
) -> dict[str, Path]:
    """Write ``results.json`` (rows + run metadata), ``results.md`` and ``validation.png``."""
    output.mkdir(parents=True, exist_ok=True)
    paths = {"json": output / "results.json", "markdown": output / "results.md"}
    paths["json"].write_text(
        json.dumps({"results": rows, "meta": meta, "histories": histories}, indent=2, default=float)
    )
    seeds = meta.get("seed")
    seed_text = f"seeds {', '.join(map(str, seeds))}" if isinstance(seeds, list) else f"seed {seeds}"
    header = f"# Evaluation: {meta.get('dataset')} ({meta.get('protocol')}, {seed_text})\n\n"
    footer = f"\n{meta['paired_tests_table']}\n" if meta.get("paired_tests_table") else ""
    paths["markdown"].write_text(header + markdown_table(rows) + "\n" + footer)
    plot = plot_validation(histories, output / "validation.png", metric=metric)
    if plot is not None:
        paths["plot"] = plot
    return paths
