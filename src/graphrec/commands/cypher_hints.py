"""What ``graphrec cypher`` adds to a store's answer so the analyst knows what to do next.

Why: the stores' own messages say what failed, not what graphrec offers instead: the FalkorDB forms
of the saved queries, Neo4j for the Graph Data Science procedures, ``graphrec init`` for a graph that
does not exist yet, ``--write`` for a refused write, quotes for an id typed as a number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphrec.graph.cypher.script import cypher_segments
from graphrec.graph.errors import GraphNotCreated, NotFoundInStore

FALKORDB_FORMS = Path("graph/queries/falkordb")
# FalkorDB's answers to Cypher it does not speak (Neo4j-only functions, procedures, syntax, arities).
_DIALECT_MISS = re.compile(
    r"unknown function|not registered|invalid input|expected|arguments to function|not supported|unknown procedure",
    re.IGNORECASE,
)
_GDS = re.compile(r"\bgds\s*\.")
# Each store's refusal of a write in a read-only session (FalkorDB's GRAPH.RO_QUERY, Neo4j's READ access).
_READ_ONLY = re.compile(r"write|read-only|read only", re.IGNORECASE)


def _code(statement: str) -> str:
    return "".join(seg for kind, seg in cypher_segments(statement) if kind == "code")


def failure_hint(exc: Exception, statement: str, *, store: str, write: bool, file: Path | None) -> str:
    """A sentence to print after the store's error (``""`` when there is nothing to add); ``store`` is
    ``"falkordb"`` or ``"neo4j"``."""
    message = str(exc)
    if isinstance(exc, GraphNotCreated):
        return "run `graphrec init` (or import data) first, or check GRAPHREC_FALKORDB_GRAPH / :use"
    if _GDS.search(_code(statement)):
        if store == "falkordb":
            return (
                "gds.* procedures are Neo4j's Graph Data Science; FalkorDB has none: run this on a Neo4j with "
                "the GDS plugin (GRAPHREC_GRAPH_URI=bolt://...; README, 'Graph Data Science')"
            )
        if isinstance(exc, NotFoundInStore):
            return (
                "this Neo4j has no Graph Data Science plugin: install it (NEO4J_PLUGINS='[\"graph-data-science\"]'; "
                "README, 'Graph Data Science')"
            )
    if not write and _READ_ONLY.search(message) and "--write" not in message:
        return "read-only: add --write to allow writes"
    if store == "falkordb" and _DIALECT_MISS.search(message):
        if file is not None and file.parent.name != FALKORDB_FORMS.name:
            twin = file.parent / FALKORDB_FORMS.name / file.name
            if twin.is_file():
                return f"this is the Neo4j form of a saved query; on FalkorDB run {twin}"
        return (
            f"if this is a Neo4j-only form: FalkorDB speaks a subset of Neo4j's Cypher; the saved queries' "
            f"FalkorDB forms are in {FALKORDB_FORMS}/ (its README lists the differences)"
        )
    return ""


def _used_as_id(name: str, code: str) -> bool:
    n = re.escape(name)
    return bool(
        re.search(rf"\bid\s*:\s*\${n}\b", code)
        or re.search(rf"\.\s*id\s*(?:=|IN\b)\s*\${n}\b", code, re.IGNORECASE)
        or re.search(rf"\${n}\s*=\s*\w+\s*\.\s*id\b", code)
    )


def _is_integer(value: Any) -> bool:
    return type(value) is int or (isinstance(value, list) and bool(value) and all(type(v) is int for v in value))


def number_id_hints(statement: str, params: dict[str, Any]) -> list[str]:
    """For a statement that found nothing: the parameters compared with an ``id`` that hold integers
    (graphrec ids are strings, so an unquoted ``42`` matches no id ``'42'``)."""
    code = _code(statement)
    return [
        f"${name} is {value!r}, a number, and graphrec ids are strings: quote it (-P \"{name} => '{value}'\")"
        if type(value) is int
        else f"${name} holds numbers, and graphrec ids are strings: quote them (['1', '2'])"
        for name, value in params.items()
        if _is_integer(value) and _used_as_id(name, code)
    ]
