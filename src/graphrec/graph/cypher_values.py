"""Graph values of either driver as plain Python, for ``graphrec cypher``'s output.

Why one module: both adapters return their driver's own node, relationship and path types; an
analyst's table (or JSON) should look the same whichever store answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from falkordb import Edge as FEdge
from falkordb import Node as FNode
from falkordb import Path as FPath
from neo4j.graph import Node, Path, Relationship


def node_value(labels: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "_labels": sorted(labels if isinstance(labels, list | tuple | set | frozenset) else [labels]),
        **dict(props),
    }


def relationship_value(rel_type: str, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"_type": rel_type, **dict(props)}


def plain(value: Any) -> Any:
    """A driver value as dicts, lists and scalars (Neo4j temporal values as ISO strings)."""
    if isinstance(value, Node):
        return node_value(list(value.labels), dict(value.items()))
    if isinstance(value, Relationship):
        return relationship_value(value.type, dict(value.items()))
    if isinstance(value, Path):
        out: list[Any] = [plain(value.start_node)]
        for rel in value.relationships:
            out += [plain(rel), plain(rel.end_node)]
        return out
    if isinstance(value, FNode):
        return node_value(value.labels or [], value.properties or {})
    if isinstance(value, FEdge):
        return relationship_value(value.relation, value.properties or {})
    if isinstance(value, FPath):
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
