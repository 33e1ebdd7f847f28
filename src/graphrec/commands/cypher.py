"""``graphrec cypher``: a Cypher prompt on whichever store is configured, for analysts.

Why: the saved queries (``graph/queries/``) are written for Neo4j Browser, but on the embedded
default there is no Browser; this runs the same files (``:param`` lines included) and prints tables.
Values always travel as parameters (``--param k=v`` or ``:param k => v``), never spliced into the text.
Read-only unless ``--write``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import typer

from graphrec.config import Settings
from graphrec.graph.cypher.script import split_cypher_script
from graphrec.graph.factory import open_store
from graphrec.graph.port import StoreLifecycle
from graphrec.graph.records import CypherResult

_PARAM_LINE = re.compile(r"^\s*:param\s+([A-Za-z_]\w*)\s*=>\s*(.+?)\s*;?\s*$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")
_CELL_WIDTH = 60


class ParamError(ValueError):
    """A parameter that cannot be read; the message names it."""


def parse_value(text: str) -> Any:
    """A parameter value as written on the command line or in a ``:param`` line.

    Quoted text is a string, ``true``/``false``/``null`` and numbers are themselves, ``[...]`` and
    ``{...}`` are JSON (single quotes allowed), and anything else is a plain string (``--param item=i1``).
    """
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if t.lower() == "null":
        return None
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    if t[:1] in "[{":
        try:
            return json.loads(t.replace("'", '"'))
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list or map: {exc.msg}") from None
    return t


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``name=value`` pairs (``--param``) as a parameter map."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise ParamError(f"--param {pair!r}: expected name=value with a Cypher parameter name")
        try:
            params[name] = parse_value(value)
        except ValueError as exc:
            raise ParamError(f"--param {name}: {exc}") from None
    return params


def script_params(text: str) -> dict[str, Any]:
    """The ``:param name => value`` lines of a script (Neo4j Browser's client command)."""
    params: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(":param"):
            m = _PARAM_LINE.match(line)
            if not m:
                raise ParamError(f"line {number}: want `:param name => value`")
            try:
                params[m.group(1)] = parse_value(m.group(2))
            except ValueError as exc:
                raise ParamError(f"line {number}: :param {m.group(1)}: {exc}") from None
    return params


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def render(result: CypherResult, fmt: str) -> str:
    """``table`` (aligned, long cells cut), ``json`` (one object per row) or ``csv``."""
    if fmt == "json":
        return "\n".join(
            json.dumps(dict(zip(result.columns, row, strict=True)), default=str, ensure_ascii=False)
            for row in result.rows
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(
            [[v if isinstance(v, str) else json.dumps(v, default=str) for v in row] for row in result.rows]
        )
        return out.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(result.columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt_row(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    body = [line, fmt_row(result.columns), line, *[fmt_row(r) for r in cells], line] if result.columns else []
    n = len(result.rows)
    return "\n".join([*body, f"({n} row{'s' if n != 1 else ''})"])


def run_script(store: StoreLifecycle, text: str, params: dict[str, Any], *, fmt: str, write: bool) -> int:
    """Run every statement of ``text``; returns how many failed (each failure is reported)."""
    failed = 0
    for line, statement in split_cypher_script(text):
        try:
            result = store.run_cypher(statement, params, write=write)
        except Exception as exc:  # noqa: BLE001 - the store's own message is what the analyst needs
            failed += 1
            message = str(getattr(exc, "message", None) or exc).strip()
            hint = "" if write or "write" not in message.lower() else " (read-only: add --write to allow writes)"
            typer.echo(f"error (statement at line {line}): {message}{hint}", err=True)
            continue
        typer.echo(render(result, fmt))
    return failed


def _prompt(store: StoreLifecycle, params: dict[str, Any], *, fmt: str, write: bool) -> None:
    """Statements end with ``;``; ``:param k => v`` sets a parameter, ``:params`` lists them, ``:exit``."""
    typer.echo("graphrec cypher: end statements with ';'. :param name => value, :params, :exit", err=True)
    buffer: list[str] = []
    while True:
        try:
            line = input("graphrec> " if not buffer else "       > ")
        except EOFError:
            break
        stripped = line.strip()
        if not buffer and stripped in (":exit", ":quit", ":q"):
            break
        if not buffer and stripped == ":params":
            typer.echo(json.dumps(params, default=str))
            continue
        if not buffer and stripped.startswith(":param"):
            try:
                params.update(script_params(stripped))
            except ParamError as exc:
                typer.echo(f"error: {exc}", err=True)
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            run_script(store, "\n".join(buffer), params, fmt=fmt, write=write)
            buffer = []


def cypher(
    command: str | None = typer.Option(
        None, "-c", "--command", help="One Cypher statement (or several, ';' separated)."
    ),
    file: Path | None = typer.Option(
        None, "-f", "--file", help="A .cypher file, e.g. graph/queries/02-*.cypher; its :param lines give defaults."
    ),
    param: list[str] = typer.Option([], "--param", "-p", help="name=value (repeatable); overrides :param lines."),
    fmt: str = typer.Option("table", "--format", help="table | json | csv"),
    write: bool = typer.Option(False, "--write", help="Allow statements that change the graph."),
) -> None:
    """Run Cypher on the configured store (embedded FalkorDB or Neo4j) and print the result."""
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter("expected table, json or csv", param_hint="--format")
    if command is not None and file is not None:
        raise typer.BadParameter("give -c or -f, not both")
    try:
        text = file.read_text(encoding="utf-8") if file is not None else command
        if text is None and not sys.stdin.isatty():
            text = sys.stdin.read()  # piped in: a script, run like -f
        params = {**(script_params(text) if text else {}), **parse_params(param)}
    except OSError as exc:
        raise typer.BadParameter(str(exc), param_hint="--file") from None
    except ParamError as exc:
        raise typer.BadParameter(str(exc)) from None
    with open_store(Settings()) as store:
        if text is not None:
            failed = run_script(store, text, params, fmt=fmt, write=write)
        else:
            _prompt(store, params, fmt=fmt, write=write)
            failed = 0
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("cypher")(cypher)
