"""The CLI starts fast because assembling it imports nothing heavy (issue 29): guarded by what a fresh
interpreter has imported, never by a stopwatch.

What is heavy was measured (``python -X importtime -c "import graphrec.cli"``, 2 loaded cores): scikit-learn
and SciPy (~2.8 s, through the segmentation command), the Neo4j driver (~0.5-1 s), pydantic-settings
(~0.4 s, the settings), the FalkorDB client with redis (~0.3-0.5 s), pyarrow, numpy (~0.3 s each), torch
and the web stack. ``graphrec --help`` needs none of them; ``graphrec cypher`` on the embedded store needs
the FalkorDB client and the settings, and nothing of the rest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deadlines import START_S

from graphrec.graph.falkordb_store import FalkorDBStore

pytestmark = pytest.mark.integration  # each test starts a fresh Python

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = frozenset(
    {
        "torch",
        "torch_geometric",
        "sklearn",
        "scipy",
        "pandas",
        "pyarrow",
        "numpy",
        "fastapi",
        "starlette",
        "uvicorn",
        "neo4j",
        "falkordb",
        "redis",
        "pydantic",
        "pydantic_settings",
        "confluent_kafka",
        "prometheus_client",
        "tqdm",
        "matplotlib",
    }
)
# What `graphrec cypher` on the embedded store must still never load.
NOT_FOR_CYPHER = frozenset(
    {"torch", "torch_geometric", "sklearn", "scipy", "pandas", "pyarrow", "numpy", "fastapi", "neo4j"}
)

_LOADED = "import sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"


def _python(code: str, env: dict[str, str] | None = None) -> list[str]:
    environment = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=START_S, env=environment, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_assembling_the_cli_imports_nothing_heavy() -> None:
    loaded = _python(f"import graphrec.cli\n{_LOADED}")
    assert "graphrec" in loaded
    assert sorted(HEAVY.intersection(loaded)) == []


def test_cypher_on_the_embedded_store_loads_only_what_it_uses(tmp_path: Path) -> None:
    store = FalkorDBStore.embedded(tmp_path, graph="startup", die_with_parent=True)
    try:
        store.apply_schema()
        code = (
            "from graphrec.cli import app\n"
            "app(['cypher', '-c', 'RETURN 1 AS x', '--format', 'csv'], standalone_mode=False)\n" + _LOADED
        )
        loaded = _python(code, {"GRAPHREC_GRAPH_URI": f"embedded:{tmp_path}", "GRAPHREC_FALKORDB_GRAPH": "startup"})
    finally:
        store.close()
    assert "falkordb" in loaded  # it did run on the store
    assert sorted(NOT_FOR_CYPHER.intersection(loaded)) == []
