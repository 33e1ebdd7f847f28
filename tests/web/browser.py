"""What the real-browser tests share: Debian's Chromium driven by ``playwright-core`` from ``web/e2e`` (it never
downloads a browser; ``make browser`` installs Chromium), and a runner that leaves no node or Chromium behind."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.live_api import REPO

E2E = REPO / "web" / "e2e"
CHROMIUM = "/usr/bin/chromium"


def _kill_marked(marker: str) -> None:
    """Stop, by pid, every process that still carries this run's marker in its environment (node and the
    Chromium it started, should either outlive a failure). Nothing else is touched."""
    needle = f"GRAPHREC_E2E_RUN={marker}".encode()
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in env.read_bytes().split(b"\0"):
                os.kill(int(env.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass  # gone meanwhile, or not ours to read


def run_node(args: list[str], *, cwd: Path, timeout_s: float) -> tuple[int, str]:
    """Run ``node ARGS`` in ``cwd``; its exit status and output. On a timeout it is asked to stop (playwright
    closes its browser on SIGTERM) and then killed; every process it started is killed by pid either way."""
    marker = uuid.uuid4().hex
    proc = subprocess.Popen(
        ["node", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GRAPHREC_E2E_RUN": marker},
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail(f"node {args[0]} did not finish in {timeout_s:.0f} s:\n" + out.decode(errors="replace")[-4000:])
    finally:
        _kill_marked(marker)
    return proc.returncode, out.decode(errors="replace")
