"""Fixtures of the event tests that start the embedded store (the Kafka path's tests share it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graphrec.graph.falkordb_store import FalkorDBStore


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[Path]:
    """One embedded server for the module; each test uses graphs of its own names in it."""
    path = tmp_path_factory.mktemp("kafka-store")
    holder = FalkorDBStore.embedded(path, graph="holder", die_with_parent=True)
    yield path
    holder.close()
