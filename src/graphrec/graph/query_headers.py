"""The header of a saved query file (``graph/queries/*.cypher``): its title, explanation and requirements.

Why a module: three readers need the same facts from the same lines. ``graphrec cypher -f`` must refuse
a query the configured store cannot run (the GDS queries on FalkorDB used to fail with a syntax error
instead of saying they need Neo4j GDS), the tests check every file's header, and the Browser guide is
generated from the header comments. A file is, in order: ``:param name => value;`` lines (the example
values), blank lines, the first comment block (first line the title, the rest the explanation), then
the query. A comment line ``// requires: NAME[, NAME]`` in that block names what the store must have;
it is not part of the explanation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

NEO4J_GDS: Final = "neo4j-gds"
"""The Neo4j Graph Data Science plugin (``gds.*`` procedures)."""

REQUIREMENTS: Final[dict[str, str]] = {
    NEO4J_GDS: "needs Neo4j GDS (the Graph Data Science plugin): run it on Neo4j with GDS installed "
    "(docker-compose.yml's neo4j service has it); the embedded FalkorDB store has no GDS procedures",
}
"""Every requirement a header may name, with what to tell someone whose store lacks it."""

_REQUIRES = re.compile(r"^//\s*requires:\s*(.*?)\s*$")


class UnknownRequirement(ValueError):
    """A ``// requires:`` line names something not in :data:`REQUIREMENTS` (a typo would hide a need)."""


@dataclass(frozen=True, slots=True)
class QueryHeader:
    """What the first comment block of a saved query says."""

    title: str
    explanation: tuple[str, ...]  # the block's other lines, comment markers removed, `requires:` left out
    requires: frozenset[str]


def _first_block(text: str) -> list[str]:
    """The comment lines after the leading ``:param`` and blank lines (empty: the text has none)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines) and (lines[i].startswith(":param") or not lines[i].strip()):
        i += 1
    block: list[str] = []
    while i < len(lines) and lines[i].startswith("//"):
        block.append(lines[i])
        i += 1
    return block


def read_header(text: str) -> QueryHeader:
    """The header of a saved query file's text; raises :class:`UnknownRequirement` for a name not in
    :data:`REQUIREMENTS`, and ``ValueError`` when the file has no comment block before its query."""
    block = _first_block(text)
    if not block:
        raise ValueError("a saved query starts with a comment block (title, explanation) before its query")
    requires: set[str] = set()
    prose: list[str] = []
    for line in block:
        m = _REQUIRES.match(line)
        if m is None:
            prose.append(line[2:].removeprefix(" ").rstrip())
            continue
        for name in (n.strip() for n in m.group(1).split(",")):
            if name not in REQUIREMENTS:
                raise UnknownRequirement(f"requires: unknown requirement {name!r} (known: {', '.join(REQUIREMENTS)})")
            requires.add(name)
    return QueryHeader(prose[0], tuple(prose[1:]), frozenset(requires))


def requirements(text: str) -> frozenset[str]:
    """The requirements the first comment block of a script names (none for a script without one, such
    as a user's own file); raises :class:`UnknownRequirement` for an unknown name."""
    block = _first_block(text)
    return read_header(text).requires if block else frozenset()


def unmet_requirement(text: str, *, has: frozenset[str]) -> str | None:
    """What a store offering ``has`` lacks to run the script ``text``, as one line for the user
    (``None``: nothing). A store's offer: :func:`store_offers`."""
    missing = sorted(requirements(text) - has)
    return "; ".join(REQUIREMENTS[name] for name in missing) or None


def store_offers(*, neo4j: bool, gds_available: bool) -> frozenset[str]:
    """The requirements a store meets: Neo4j with the GDS procedures installed meets ``neo4j-gds``;
    the embedded FalkorDB store meets none (``neo4j=False``)."""
    return frozenset({NEO4J_GDS}) if neo4j and gds_available else frozenset()
