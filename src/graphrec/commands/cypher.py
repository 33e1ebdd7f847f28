"""``graphrec cypher``: cypher-shell for whichever store is configured, for analysts.

Why: the saved queries (``graph/queries/``) are written for Neo4j Browser and cypher-shell, but on the
embedded default there is neither; this runs the same files and behaves as cypher-shell does where
it matters: parameters typed as Cypher literals (``-P "user => '42'"``: a string; ``42``: an integer),
the store's notifications shown, ``EXPLAIN``/``PROFILE`` plans printed, ``:begin``/``:commit``/
``:rollback`` and ``:use`` honoured or refused with the reason (never dropped), a script stopped at
its first error, a store that cannot be reached failing in seconds. Values always travel as
parameters, never spliced into the text. Read-only unless ``--write``.

Start-up matters (an analyst runs this in a loop): the store drivers, the settings and the rest are
imported when the command runs, not when the CLI assembles itself.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from graphrec.commands.cypher_output import DEFAULT_WIDTH, FORMATS
from graphrec.data.errors import UserError

if TYPE_CHECKING:
    from graphrec.graph.port import CypherConsole

_OLD_PARAM = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!>)(.*)$", re.DOTALL)
_CLIENT_HELP = (
    ":param name => value | :param {name: value, ...} | :params | :params {} | :begin | :commit | :rollback | "
    ":use NAME | :help | :exit"
)


class ParamError(UserError):
    """A parameter that cannot be read; the message names the option and the reason (exit 2)."""


class ScriptStopped(Exception):  # noqa: N818 - reads as what happened
    """A script's statement or client command failed (already reported): the rest does not run."""


def parse_params(assignments: list[str], old_style: list[str]) -> dict[str, Any]:
    """``-P 'name => value'`` / ``-P '{a: 1}'`` and ``--param name=value``, every value a Cypher literal."""
    from graphrec.graph.cypher.literals import LiteralError, parse_assignment, parse_literal

    params: dict[str, Any] = {}
    for text in assignments:
        try:
            params.update(parse_assignment(text))
        except LiteralError as exc:
            raise ParamError(f"-P {text!r}: {exc}") from None
    for pair in old_style:
        m = _OLD_PARAM.match(pair)
        if not m:
            raise ParamError(f"--param {pair!r}: expected name=value with a Cypher parameter name")
        try:
            params[m.group(1)] = parse_literal(m.group(2))
        except LiteralError as exc:
            raise ParamError(f"--param {pair!r}: {exc}") from None
    return params


@dataclass
class Shell:
    """One ``graphrec cypher`` run: the console, the parameters, and how results are printed.

    ``given`` are the command line's parameters: a script's ``:param`` lines set defaults only, so
    ``-P`` overrides the example values of a saved query."""

    console: CypherConsole
    given: dict[str, Any]
    store: str
    fmt: str = "table"
    write: bool = False
    width: int = DEFAULT_WIDTH
    show_embeddings: bool = False
    file: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    exit_requested: bool = False
    home: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.params.update(self.given)
        self.home = self.console.target  # where `:use` with no name goes back to

    # -- client commands -------------------------------------------------------------------------
    def client_command(self, line: str) -> None:
        """Run one ``:command`` line; raises ``ValueError`` (or a store error) naming what is wrong."""
        from graphrec.graph.cypher.literals import LiteralError, parse_assignment

        word, _, rest = line.strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        if word == ":param":
            try:
                values = parse_assignment(rest)
            except LiteralError as exc:
                raise ValueError(f":param: {exc}") from None
            self.params.update({k: v for k, v in values.items() if k not in self.given})
        elif word == ":params":
            if rest in ("{}", "clear"):
                self.params.clear()
            elif rest:
                raise ValueError(":params lists the parameters; `:params {}` clears them")
            else:
                typer.echo(json.dumps(self.params, default=str, ensure_ascii=False))
        elif word == ":begin":
            self.console.begin()
            typer.echo("transaction open (:commit or :rollback ends it)", err=True)
        elif word == ":commit":
            self.console.commit()
            typer.echo("transaction committed", err=True)
        elif word == ":rollback":
            self.console.rollback()
            typer.echo("transaction rolled back", err=True)
        elif word == ":use":
            self.console.use(rest or self.home)
            typer.echo(f"using {self.console.target}", err=True)
        elif word in (":exit", ":quit", ":q"):
            self.exit_requested = True
        elif word == ":help":
            typer.echo(_CLIENT_HELP, err=True)
        else:
            raise ValueError(f"unknown client command {word} (known: {_CLIENT_HELP})")

    # -- statements ------------------------------------------------------------------------------
    def statement(self, text: str) -> None:
        """Run one statement and print its rows, plan, notifications and hints; raises on failure."""
        from graphrec.commands.cypher_hints import number_id_hints
        from graphrec.commands.cypher_output import render, render_plan
        from graphrec.graph.cypher.script import plan_prefix

        result = self.console.run_cypher(text, self.params)
        mode, _ = plan_prefix(text)
        if result.columns or not result.plan:
            typer.echo(render(result, self.fmt, width=self.width, show_embeddings=self.show_embeddings))
        if result.plan:
            typer.echo(render_plan(result, mode or "plan"), err=self.fmt != "table")
        for note in result.notifications:
            typer.echo(f"{note.severity.lower()}: {note.description}", err=True)
        if not result.rows and result.columns:
            for hint in number_id_hints(text, self.params):
                typer.echo(f"hint: {hint}", err=True)

    def report(self, exc: Exception, where: str, statement: str = "") -> None:
        """The one line (and hint) for a failed statement or client command; a store that cannot be
        reached is not reported here: it ends the command (exit 3)."""
        from graphrec.commands.cypher_hints import failure_hint
        from graphrec.graph.errors import StoreError, is_unavailable

        if is_unavailable(exc) or not isinstance(exc, StoreError | ValueError):
            raise exc
        message = " ".join(str(getattr(exc, "message", None) or exc).split())
        typer.echo(f"error ({where}): {message}", err=True)
        hint = failure_hint(exc, statement, store=self.store, write=self.write, file=self.file) if statement else ""
        if hint:
            typer.echo(f"hint: {hint}", err=True)

    def run_item(self, line: int, text: str, *, command: bool) -> None:
        """One script item; on failure report it (rolling back an open transaction) and raise ScriptStopped."""
        was_open = self.console.in_transaction
        try:
            if command:
                self.client_command(text)
            else:
                self.statement(text)
        except Exception as exc:  # noqa: BLE001 - reported in one line; a bug or an outage re-raises in report()
            if command:
                self.report(exc, f"{text.split()[0]} at line {line}")
            else:
                self.report(exc, f"statement at line {line}", text)
            if was_open and not self.console.in_transaction and not command:
                typer.echo("error: the open transaction was rolled back; nothing of it was committed", err=True)
            raise ScriptStopped from None

    def run_script(self, text: str) -> int:
        """Every item of ``text`` in order, stopping at the first failure; returns 1 if one failed (or
        the script left a transaction open, which is then rolled back), else 0."""
        from graphrec.graph.cypher.script import script_items

        for item in script_items(text):
            try:
                self.run_item(item.line, item.text, command=item.command)
            except ScriptStopped:
                return 1
            if self.exit_requested:
                break
        if self.console.in_transaction:
            self.console.rollback()
            typer.echo("error: the script ended inside a transaction (:begin without :commit): rolled back", err=True)
            return 1
        return 0

    def prompt(self) -> None:
        """Statements end with ``;``; client commands (``:help``) take one line; an error does not end it."""
        typer.echo(f"graphrec cypher on {self.console.target}: end statements with ';'; :help, :exit", err=True)
        self.given = {}  # typed at the prompt, a :param wins over the command line's -P
        buffer: list[str] = []
        while not self.exit_requested:
            mark = "#" if self.console.in_transaction else ">"
            try:
                line = input(f"{self.console.target}{mark} " if not buffer else " " * len(self.console.target) + "  ")
            except EOFError:
                break
            if not buffer and line.strip().startswith(":"):
                self._prompt_statements(line)
                continue
            buffer.append(line)
            if line.strip().endswith(";"):
                self._prompt_statements("\n".join(buffer))
                buffer = []
        if self.console.in_transaction:
            self.console.rollback()
            typer.echo("the open transaction was rolled back (not committed)", err=True)

    def _prompt_statements(self, text: str) -> None:
        from graphrec.graph.cypher.script import script_items

        for item in script_items(text):
            try:
                self.run_item(item.line, item.text, command=item.command)
            except ScriptStopped:
                return


def cypher(
    command: Annotated[
        str | None, typer.Option("-c", "--command", help="One Cypher statement (or several, ';' separated).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "-f", "--file", help="A .cypher file, e.g. graph/queries/02-*.cypher; its :param lines give defaults."
        ),
    ] = None,
    assignments: Annotated[
        list[str],
        typer.Option(
            "-P",
            "--parameter",
            help='"name => value" or "{name: value, ...}" (repeatable), the value a Cypher literal: '
            "'42' a string, 42 an integer, [...] a list, {...} a map; overrides :param lines.",
        ),
    ] = [],  # noqa: B006 - typer's repeatable option: never mutated
    old_style: Annotated[
        list[str],
        typer.Option("--param", "-p", help="name=value, the older spelling of -P (the same Cypher literal rule)."),
    ] = [],  # noqa: B006
    fmt: Annotated[str, typer.Option("--format", help="table | json | csv")] = "table",
    write: Annotated[bool, typer.Option("--write", help="Allow statements that change the graph.")] = False,
    width: Annotated[
        int, typer.Option("--width", min=0, help="Cut table cells at this many characters; 0: never.")
    ] = DEFAULT_WIDTH,
    show_embeddings: Annotated[
        bool, typer.Option("--show-embeddings", help="Print nodes' list-of-float properties (embeddings) in full.")
    ] = False,
) -> None:
    """Run Cypher on the configured store (embedded FalkorDB or Neo4j), like cypher-shell.

    Statements come from -c, -f, a pipe, or a prompt on a terminal. Client commands: :param, :params,
    :begin/:commit/:rollback (Neo4j; FalkorDB refuses them), :use, :help, :exit. EXPLAIN and PROFILE
    print the plan; the store's notifications print as warnings. A script stops at its first error.
    """
    if fmt not in FORMATS:
        raise UserError(f"--format: expected {', '.join(FORMATS)}, got {fmt!r}")
    if command is not None and file is not None:
        raise UserError("-c and -f: give one of them, not both")
    given = parse_params(assignments, old_style)
    text = file.read_text(encoding="utf-8") if file is not None else command  # OSError: one line, exit 2
    if text is None and not sys.stdin.isatty():
        text = sys.stdin.read()  # piped in: a script, run like -f

    from graphrec.config import Settings
    from graphrec.graph.factory import open_store

    settings = Settings()
    store_kind = "neo4j" if settings.graph_location.kind == "neo4j" else "falkordb"
    with open_store(settings) as store:
        if text is not None:
            _refuse_unmet_requirements(text, store)
        console = store.cypher_console(write=write)
        try:
            shell = Shell(
                console,
                given,
                store_kind,
                fmt=fmt,
                write=write,
                width=width,
                show_embeddings=show_embeddings,
                file=file,
            )
            if text is not None:
                failed = shell.run_script(text)
            else:
                shell.prompt()
                failed = 0
        finally:
            console.close()
    if failed:
        raise typer.Exit(1)


def _refuse_unmet_requirements(text: str, store: object) -> None:
    """A saved query whose header names what the store lacks (``// requires: neo4j-gds`` on FalkorDB,
    or on a Neo4j without GDS) fails in one line saying so, before anything runs: the store's own error
    would be a syntax error or an unknown procedure (:mod:`graphrec.graph.query_headers`)."""
    from graphrec.graph.query_headers import UnknownRequirement, requirements, store_offers, unmet_requirement

    try:
        if not requirements(text):
            return
    except UnknownRequirement as exc:
        raise UserError(str(exc)) from None
    from graphrec.graph.neo4j_store import Neo4jStore

    is_neo4j = isinstance(store, Neo4jStore)
    offers = store_offers(neo4j=is_neo4j, gds_available=isinstance(store, Neo4jStore) and store.gds() is not None)
    missing = unmet_requirement(text, has=offers)
    if missing is not None:
        raise UserError(missing)


def register(app: typer.Typer) -> None:
    app.command("cypher")(cypher)
