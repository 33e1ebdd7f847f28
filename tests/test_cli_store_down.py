"""A command run while the store is unreachable says so in one line and exits 3 (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from deadlines import START_S

from tests.live_api import REPO, free_port


@pytest.mark.integration  # the CLI in a subprocess
def test_a_command_against_an_unreachable_store_fails_with_one_clear_line() -> None:
    env = {
        **os.environ,
        "GRAPHREC_GRAPH_URI": f"bolt://127.0.0.1:{free_port()}",
        "GRAPHREC_GRAPH_PASSWORD": "unused-password",
        "GRAPHREC_STORE_CONNECT_TIMEOUT_S": "0.5",
        # a job rides out a restart by retrying (30 s by default); here the store never comes back
        "GRAPHREC_STORE_JOB_RETRY_S": "1",
    }
    run = subprocess.run(
        [sys.executable, "-c", "from graphrec.cli import main; main()", "stats"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_S,
    )
    assert run.returncode == 3, run.stderr[-2000:]
    assert "error: Neo4j unavailable" in run.stderr
    assert "GRAPHREC_GRAPH_URI" in run.stderr and "Traceback" not in run.stderr
