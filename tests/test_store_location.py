"""GRAPHREC_GRAPH_URI is read in one place: settings, the store factory and the Neo4j adapter agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from graphrec.config import Settings, StoreLocation, parse_graph_uri
from graphrec.graph.neo4j_store import Neo4jStore


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("embedded", StoreLocation("embedded", "embedded")),
        ("embedded:/data/store", StoreLocation("embedded", "embedded:/data/store", path=Path("/data/store"))),
        ("falkor://db:6380", StoreLocation("falkordb", "falkor://db:6380", host="db", port=6380)),
        (
            "falkors://:pw@db",
            StoreLocation("falkordb", "falkors://:pw@db", host="db", port=6379, password="pw", tls=True),
        ),
        ("falkor://", StoreLocation("falkordb", "falkor://", host="127.0.0.1", port=6379)),
        ("neo4j+s://x.databases.neo4j.io", StoreLocation("neo4j", "neo4j+s://x.databases.neo4j.io")),
        ("bolt://localhost:7687", StoreLocation("neo4j", "bolt://localhost:7687")),
    ],
)
def test_every_accepted_form(uri: str, expected: StoreLocation) -> None:
    assert parse_graph_uri(uri) == expected


@pytest.mark.parametrize("uri", ["embeddedx", "http://db", "redis://db", "neo4j:/db", "bolt+x://db", ""])
def test_other_uris_are_refused_everywhere(uri: str) -> None:
    with pytest.raises(ValueError, match="unsupported graph URI"):
        parse_graph_uri(uri)
    with pytest.raises(ValidationError, match="unsupported graph URI"):
        Settings(graph_uri=uri)


def test_settings_read_the_location() -> None:
    assert Settings(graph_uri="embedded:/tmp/s").embedded_dir == Path("/tmp/s")
    assert Settings(graph_uri="embedded", data_dir=Path("d")).embedded_dir == Path("d") / "store"
    with pytest.raises(ValidationError, match="GRAPHREC_GRAPH_PASSWORD"):
        Settings(graph_uri="neo4j://db", environment="production")
    with pytest.raises(ValueError, match="not a Neo4j URI"):
        Neo4jStore.connect("falkor://db")
