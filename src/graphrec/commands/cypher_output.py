"""How ``graphrec cypher`` prints a result: a table for people, JSON lines or CSV for programs.

Why its own module: the command decides what runs; this decides what an analyst sees. Embeddings
(list-of-float properties of nodes and relationships, :data:`VECTOR_MIN` or more numbers each) are
shown as their size unless asked for, since a row of 64 floats hides the properties an analyst came to read; a
returned list (``RETURN i.embedding``) is what was asked for and is shown whole. Table cells are cut
at ``width`` characters (0: never).
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphrec.graph.records import CypherResult

DEFAULT_WIDTH = 60
VECTOR_MIN = 8  # shorter float lists (a segment's centroid of a few features) are read, not elided
FORMATS = ("table", "json", "csv")


def _is_vector(value: Any) -> bool:
    return isinstance(value, list) and len(value) >= VECTOR_MIN and all(type(v) is float for v in value)


def elide_vectors(value: Any) -> Any:
    """``value`` with every node's and relationship's list-of-float properties replaced by
    ``"<n floats>"`` (nodes and relationships are maps with ``_labels`` or ``_type``)."""
    if isinstance(value, dict):
        entity = "_labels" in value or "_type" in value
        return {k: (f"<{len(v)} floats>" if entity and _is_vector(v) else elide_vectors(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [elide_vectors(v) for v in value]
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def _cell(value: Any, width: int) -> str:
    text = _text(value).replace("\n", "\\n")
    return text if width <= 0 or len(text) <= width else text[: width - 1] + "…"


def footer(result: CypherResult) -> str:
    """``(2 rows)``, with what a write changed: ``(0 rows; nodes created: 1, properties set: 2)``."""
    n = len(result.rows)
    changed = ", ".join(f"{name}: {count}" for name, count in result.counters)
    return f"({n} row{'s' if n != 1 else ''}{'; ' + changed if changed else ''})"


def render(result: CypherResult, fmt: str, *, width: int = DEFAULT_WIDTH, show_embeddings: bool = False) -> str:
    """``table`` (aligned, long cells cut, a row count), ``json`` (one object per row) or ``csv``."""
    rows = result.rows if show_embeddings else [elide_vectors(row) for row in result.rows]
    if fmt == "json":
        return "\n".join(
            json.dumps(dict(zip(result.columns, row, strict=True)), default=str, ensure_ascii=False) for row in rows
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_text(v) for v in row] for row in rows])
        return out.getvalue().rstrip("\n")
    cells = [[_cell(v, width) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(result.columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt_row(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    body = [line, fmt_row(result.columns), line, *[fmt_row(r) for r in cells], line] if result.columns else []
    return "\n".join([*body, footer(result)])


def render_plan(result: CypherResult, mode: str) -> str:
    """The plan of an ``EXPLAIN`` or ``PROFILE``, one operator per line."""
    return "\n".join([f"{mode} plan:", *("  " + line for line in result.plan)])
