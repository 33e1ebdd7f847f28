"""Reading the saved Browser queries (graph/queries/*.cypher): `:param` lines, comments, one query."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

QUERIES = Path(__file__).resolve().parents[1] / "graph" / "queries"
FILES = sorted(QUERIES.glob("*.cypher"))
_PARAM = re.compile(r"^:param\s+([A-Za-z_]\w*)\s*=>\s*(.+?);?\s*$")


def parts(path: Path) -> tuple[dict[str, str], list[str], str]:
    """(:param name -> value, comment lines, query) of a saved query file, in that order."""
    params: dict[str, str] = {}
    comments: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines) and (lines[i].startswith(":param") or not lines[i].strip()):
        if lines[i].strip():
            m = _PARAM.match(lines[i])
            assert m, f"{path.name}:{i + 1}: want `:param name => value;`"
            params[m.group(1)] = m.group(2)
        i += 1
    while i < len(lines) and (lines[i].startswith("//") or not lines[i].strip()):
        if lines[i].strip():
            comments.append(lines[i])
        i += 1
    return params, comments, "\n".join(lines[i:])


def by_name(stem_suffix: str) -> Path:
    (path,) = [p for p in FILES if p.stem.split("-", 1)[1] == stem_suffix]
    return path


_CYPHER_WORDS = {"null": None, "true": True, "false": False}


def example_params(path: Path) -> dict[str, Any]:
    """The file's `:param` example values as Python values (plain literals: 'u1', 20, 30.0, null)."""
    return {
        name: _CYPHER_WORDS[value] if value in _CYPHER_WORDS else ast.literal_eval(value)
        for name, value in parts(path)[0].items()
    }
