"""The Browser guide of graphrec's saved queries (``:play http://localhost:<port>/guide.html``), built
from ``graph/queries/*.cypher`` whenever ``graphrec neo4j start`` runs.

Why generated: the ``.cypher`` files are the one home of the queries and their explanations (their
header comments); a hand-copied guide would drift from them the first time a query changed. One slide
per file: its title from the file name, its header comment as the explanation, its ``:param`` lines as
one ``:param [{a, b}] => { RETURN ... }`` command and its statements as blocks Browser pastes into the
editor on a click.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from graphrec.graph.cypher.script import split_cypher_script

# a Browser parameter line as the saved queries write it: `:param name => <Cypher expression>;`
_PARAM = re.compile(r"^\s*:param\s+([A-Za-z_]\w*)\s*=>\s*(.+?)\s*;?\s*$")


@dataclass(frozen=True, slots=True)
class SavedQuery:
    """One saved query file, read for the guide."""

    name: str  # the file name, e.g. 03-why-recommended.cypher
    title: str  # e.g. "03 · why recommended"
    notes: list[str]  # the header comment, one entry per comment line (without `//`)
    params: list[tuple[str, str]]  # (name, Cypher expression) in file order
    statements: list[str]


def read_saved_query(path: Path) -> SavedQuery:
    """The parts of one ``.cypher`` file: ``:param`` lines, then the header comment, then the statements."""
    text = path.read_text(encoding="utf-8")
    params: list[tuple[str, str]] = []
    notes: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        match = _PARAM.match(line)
        if match:
            params.append((match.group(1), match.group(2)))
        elif stripped.startswith("//"):
            notes.append(stripped[2:].removeprefix(" "))
        elif stripped and not stripped.startswith(":"):
            break  # the query begins: its own comments stay in it
    number, _, rest = path.stem.partition("-")
    title = f"{number} · {rest.replace('-', ' ')}" if number.isdigit() and rest else path.stem
    statements = [_without_header(statement) for _, statement in split_cypher_script(text)]
    return SavedQuery(path.name, title, notes, params, [s for s in statements if s])


def _without_header(statement: str) -> str:
    """A statement without the comment lines before its first line of code (they are the slide's notes)."""
    lines = statement.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("//")):
        lines.pop(0)
    return "\n".join(lines).strip()


def saved_queries(folder: Path) -> list[SavedQuery]:
    """Every ``*.cypher`` directly in ``folder`` (not its dialect subfolders), in file-name order."""
    return [read_saved_query(path) for path in sorted(folder.glob("*.cypher"))]


def params_command(params: list[tuple[str, str]]) -> str:
    """``:param [{a, b}] => { RETURN 20 AS `a`, 'u1' AS `b` }``: one Browser command that sets every
    parameter of a query, each value evaluated by Neo4j as the Cypher the file writes.

    Why not ``:params {a: 20, ...}``: Browser parses that map as JavaScript, where every number is a float,
    and Cypher refuses ``LIMIT 20.0`` and GDS an ``embeddingDimension`` of ``128.0`` (the acceptance walk
    in Chromium failed 02, 08, 09 and 11 that way). The destructuring form of ``:param`` runs the RETURN
    on the server, so an integer stays an integer, as ``:param name => value`` does for one parameter;
    it adds to the parameters already set rather than replacing them."""
    names = ", ".join(name for name, _ in params)
    values = ", ".join(f"{value} AS `{name}`" for name, value in params)
    return f":param [{{{names}}}] => {{ RETURN {values} }}"


def _notes_html(notes: list[str]) -> str:
    """Comment lines as paragraphs; indented lines (tables of terms in the comments) kept as written."""
    parts: list[str] = []
    prose: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if prose:
            parts.append(f"<p>{html.escape(' '.join(prose))}</p>")
            prose.clear()
        if table:
            parts.append(f"<pre>{html.escape(chr(10).join(table))}</pre>")
            table.clear()

    for note in notes:
        if note.startswith(" "):
            if prose:
                flush()
            table.append(note)
        elif not note.strip():
            flush()
        else:
            if table:
                flush()
            prose.append(note.strip())
    flush()
    return "\n".join(parts)


def _runnable(code: str) -> str:
    return f'<pre class="pre-scrollable code runnable">{html.escape(code)}</pre>'


def _slide(query: SavedQuery) -> str:
    blocks = [f"<h3>{html.escape(query.title)}</h3>", f"<p><code>graph/queries/{html.escape(query.name)}</code></p>"]
    blocks.append(_notes_html(query.notes))
    if query.params:
        blocks.append("<p>1. Set its parameters (click, then run; change the values as you like):</p>")
        blocks.append(_runnable(params_command(query.params)))
        blocks.append("<p>2. Run the query:</p>")
    blocks.extend(_runnable(statement) for statement in query.statements)
    return '<slide class="row-fluid">\n<div class="col-sm-12">\n' + "\n".join(blocks) + "\n</div>\n</slide>"


def guide_html(queries: list[SavedQuery]) -> str:
    """The whole guide: an index slide, then one slide per saved query."""
    index = "\n".join(f"<li>{html.escape(q.title)}</li>" for q in queries)
    first = (
        '<slide class="row-fluid">\n<div class="col-sm-12">\n'
        "<h3>graphrec: saved queries</h3>\n"
        "<p>The analyst's questions of the graphrec graph, one slide each, generated from "
        "<code>graph/queries/*.cypher</code> when <code>graphrec neo4j start</code> ran. On each slide, click a "
        "block to put it in the editor, then run it (Ctrl+Enter): first the parameters, then the query.</p>\n"
        f"<ol>\n{index}\n</ol>\n</div>\n</slide>"
    )
    slides = "\n".join([first, *(_slide(q) for q in queries)])
    return f'<article class="guide">\n<carousel class="deck container-fluid">\n{slides}\n</carousel>\n</article>\n'


def default_queries_dir() -> Path | None:
    """``graph/queries`` of the checkout graphrec runs from, else of the working directory, else None."""
    checkout = Path(__file__).resolve().parents[3] / "graph" / "queries"
    for folder in (checkout, Path.cwd() / "graph" / "queries"):
        if folder.is_dir():
            return folder
    return None
