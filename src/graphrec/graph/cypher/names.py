"""The labels, relationship types and property keys a Cypher statement names, read from its text.

Why: Neo4j warns when a statement names a label, type or property key the database has never had
(the usual cause of a silent "0 rows" is a typo: ``:Usr``); FalkorDB says nothing, so its adapter
compares these names with the graph's own (``db.labels()``, ...) and warns the same way. This is a
reading of the text, not a parser: it knows patterns, label predicates and map keys well enough to
warn, and it only ever warns (never refuses a statement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphrec.graph.cypher.script import cypher_segments

_NAME = re.compile(r"\s*(`[^`]+`|[A-Za-z_][A-Za-z_0-9]*)")
_PATTERN_VAR = re.compile(r"[(\[]\s*([A-Za-z_]\w*)\s*(?=[:){\]])")
_PROPERTY = re.compile(r"(?<![\w.$`])([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*|`[^`]+`)((?:\s*\.\s*\w+)*)(\s*\()?")


@dataclass(frozen=True, slots=True)
class StatementNames:
    labels: frozenset[str] = field(default_factory=frozenset)
    types: frozenset[str] = field(default_factory=frozenset)
    keys: frozenset[str] = field(default_factory=frozenset)


def _code(statement: str) -> str:
    """The statement with strings blanked and comments removed (backtick names kept), same length
    where it matters: positions are only compared within the result."""
    parts: list[str] = []
    for kind, seg in cypher_segments(statement):
        if kind == "comment":
            parts.append(" ")
        elif kind == "literal" and seg[:1] in "'\"":
            parts.append("''")
        else:
            parts.append(seg)
    return "".join(parts)


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith("`") else name


def _map_keys(code: str, start: int) -> set[str]:
    """The top-level keys of the map literal whose body begins at ``start``."""
    top: list[str] = []
    depth = 0
    for c in code[start:]:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        top.append(c if depth == 0 and c not in "([{" else " ")
    return {_unquote(m.group(1)) for m in re.finditer(r"(?:^|,)\s*([A-Za-z_]\w*|`[^`]+`)\s*:", "".join(top))}


def statement_names(statement: str) -> StatementNames:
    """The labels (``(n:Label)``, ``WHERE n:Label``), relationship types (``[:TYPE]``) and property keys
    (``n.key`` of a pattern variable, ``(n {key: ...})``) that ``statement`` names."""
    code = _code(statement)
    labels: set[str] = set()
    types: set[str] = set()
    keys: set[str] = set()
    stack: list[str] = []
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch == "`":  # a quoted name: skip it whole
            end = code.find("`", i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch in "([":
            stack.append(ch)
        elif ch == "{":
            before = code[:i].rstrip()[-1:]
            in_pattern = bool(stack) and stack[-1] in "([" and (before.isalnum() or before in ("_", "`"))
            stack.append("{p" if in_pattern else "{")
            if in_pattern:  # a pattern's property map: its top-level keys are property keys
                keys.update(_map_keys(code, i + 1))
        elif ch in ")]}":
            if stack:
                stack.pop()
        elif ch == ":" and code[i + 1 : i + 2] != ":" and code[i - 1 : i] != ":":
            context = stack[-1] if stack else ""
            if not context.startswith("{"):
                target = types if context == "[" else labels
                j = i + 1
                while True:
                    m = _NAME.match(code, j)
                    if not m:
                        break
                    target.add(_unquote(m.group(1)))
                    j = m.end()
                    nxt = re.match(r"\s*[|&]\s*:?", code[j:])
                    if not nxt:
                        break
                    j += nxt.end()
                i = j
                continue
        i += 1
    variables = {m.group(1) for m in _PATTERN_VAR.finditer(code)}
    for m in _PROPERTY.finditer(code):
        if m.group(4) is None and m.group(1) in variables:
            keys.add(_unquote(m.group(2)))
    return StatementNames(frozenset(labels), frozenset(types), frozenset(keys))
