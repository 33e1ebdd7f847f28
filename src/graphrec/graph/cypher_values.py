"""Graph values of either driver as plain Python, for ``graphrec cypher``'s output.

Why one module: both adapters return their driver's own node, relationship and path types; an
analyst's table (or JSON) should look the same whichever store answered. Neither driver is imported
here: a value can only be one driver's type once that driver is loaded, and ``graphrec cypher`` on the
embedded store must not pay a second of start-up for the Neo4j driver it never uses.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any


def node_value(labels: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "_labels": sorted(labels if isinstance(labels, list | tuple | set | frozenset) else [labels]),
        **dict(props),
    }


def relationship_value(rel_type: str, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"_type": rel_type, **dict(props)}


def plain(value: Any) -> Any:
    """A driver value as dicts, lists and scalars (Neo4j temporal values as ISO strings)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    neo4j_graph = sys.modules.get("neo4j.graph")
    if neo4j_graph is not None:
        if isinstance(value, neo4j_graph.Node):
            return node_value(list(value.labels), dict(value.items()))
        if isinstance(value, neo4j_graph.Relationship):
            return relationship_value(value.type, dict(value.items()))
        if isinstance(value, neo4j_graph.Path):
            out: list[Any] = [plain(value.start_node)]
            for rel in value.relationships:
                out += [plain(rel), plain(rel.end_node)]
            return out
    falkordb = sys.modules.get("falkordb")
    if falkordb is not None:
        if isinstance(value, falkordb.Node):
            return node_value(value.labels or [], value.properties or {})
        if isinstance(value, falkordb.Edge):
            return relationship_value(value.relation, value.properties or {})
        if isinstance(value, falkordb.Path):
            nodes, edges = value.nodes(), value.edges()
            out = [plain(nodes[0])] if nodes else []
            for rel, node in zip(edges, nodes[1:], strict=False):
                out += [plain(rel), plain(node)]
            return out
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "iso_format"):  # neo4j.time.DateTime and friends
        return value.iso_format()
    return value
