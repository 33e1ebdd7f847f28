"""Reading Cypher text: split a ``.cypher`` script into statements, tell code from strings and comments.

Why here and not in a store module: the Neo4j adapter's schema file, the analyst CLI
(``graphrec cypher``) and the saved-query tests all split scripts the same way, and none of that
depends on which store runs the statements.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScriptItem:
    """One piece of a script, in order: a Cypher statement (without its ``;``), or a client command
    line such as ``:param user => 'u1'`` or ``:begin`` (``command`` true; the text without a final ``;``)."""

    line: int
    text: str
    command: bool = False


def split_cypher_script(text: str) -> list[tuple[int, str]]:
    """Split a ``.cypher`` script into ``(first line number, statement)`` on top-level ``;``.

    Semicolons inside strings, backtick names and comments do not split. Neo4j Browser client
    commands (lines such as ``:param dim => 64`` or ``:use neo4j`` at the start of a statement) are
    not Cypher and are dropped (:func:`script_items` keeps them), as are chunks holding only comments.
    """
    return [(item.line, item.text) for item in script_items(text) if not item.command]


def script_items(text: str) -> list[ScriptItem]:
    """:func:`split_cypher_script` with the client commands kept in their place, for a client that
    honours them (``graphrec cypher``: ``:param``, ``:begin``, ``:commit``, ``:rollback``, ``:use``)."""
    statements: list[ScriptItem] = []
    buf: list[str] = []
    start_line = 1
    i, n, line = 0, len(text), 1

    def pending_code() -> str:
        return _strip_comments("".join(buf)).strip()

    def flush() -> None:
        stmt = "".join(buf).strip()
        if _strip_comments(stmt).strip():
            statements.append(ScriptItem(start_line, stmt))
        buf.clear()

    while i < n:
        ch = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and not pending_code():
            stripped = text[i:].lstrip(" \t")
            if stripped.startswith(":") and len(stripped) > 1 and stripped[1].isalpha():
                j = text.find("\n", i)
                j = n if j < 0 else j  # the client command line is one item (the newline stays)
                statements.append(ScriptItem(line, text[i:j].strip().rstrip(";").rstrip(), command=True))
                i = j
                continue
        if not pending_code() and not ch.isspace() and not text.startswith(("//", "/*"), i):
            start_line = line
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" and ch != "`" else 1
            chunk = text[i : j + 1]
        elif text.startswith("//", i):
            j = text.find("\n", i)
            chunk = text[i:] if j < 0 else text[i:j]
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            chunk = text[i:] if j < 0 else text[i : j + 2]
        elif ch == ";":
            flush()
            i += 1
            continue
        else:
            chunk = ch
        buf.append(chunk)
        line += chunk.count("\n")
        i += len(chunk)
    flush()
    return statements


def cypher_segments(text: str) -> list[tuple[str, str]]:
    """``text`` cut into ``("literal" | "comment" | "code", segment)`` pieces that join back to it.

    Strings, backtick names (with backslash escapes outside backticks), ``//`` and ``/* */``
    comments are recognised once here; the script splitter and the lint's parameter finder both
    read Cypher through this.
    """
    pieces: list[tuple[str, str]] = []
    code_start = i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" and ch != "`" else 1
            end, kind = min(j + 1, n), "literal"
        elif text.startswith("//", i):
            j = text.find("\n", i)
            end, kind = (n if j < 0 else j), "comment"
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            end, kind = (n if j < 0 else j + 2), "comment"
        else:
            i += 1
            continue
        if code_start < i:
            pieces.append(("code", text[code_start:i]))
        pieces.append((kind, text[i:end]))
        code_start = i = end
    if code_start < n:
        pieces.append(("code", text[code_start:]))
    return pieces


def _strip_comments(text: str) -> str:
    return "".join(seg for kind, seg in cypher_segments(text) if kind != "comment")


def plan_prefix(statement: str) -> tuple[str | None, str]:
    """``("EXPLAIN" | "PROFILE", the statement after it)`` when the statement asks for its plan (after
    any leading comments), else ``(None, statement)``: FalkorDB answers those through other commands."""
    code = "".join(seg if kind != "comment" else " " for kind, seg in cypher_segments(statement)).lstrip()
    word = code.split(None, 1)
    if len(word) == 2 and word[0].upper() in ("EXPLAIN", "PROFILE"):
        return word[0].upper(), word[1]
    return None, statement
