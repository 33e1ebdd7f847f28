"""A real API process for tests that need HTTP, signals or several clients: uvicorn started here.

The process is the one users run (``graphrec serve``, with its header deadline) with settings from its
environment; ``start_api`` waits until it answers and callers stop it (``stop_api``) in ``finally``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from deadlines import START_S

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiProcess(subprocess.Popen[bytes]):
    """The API's process, with the file its log goes to (:func:`stop_api` reads it)."""

    log: Path
    temporary: bool  # the log is a temporary file of start_api's: removed by stop_api unless it shows a failure


def start_api(env: dict[str, str], port: int, *, log: Path | None = None, timeout_s: float = START_S) -> ApiProcess:
    """Start the API on ``127.0.0.1:port`` with ``env`` over the test's own environment; its log goes to
    ``log`` (a temporary file when not given, removed by :func:`stop_api` unless it shows a failure)."""
    temporary = log is None
    if log is None:
        fd, name = tempfile.mkstemp(prefix="graphrec-api-", suffix=".log")
        os.close(fd)
        log = Path(name)
    out = open(log, "wb")  # noqa: SIM115 - the child keeps it
    proc = ApiProcess(
        [
            sys.executable,
            "-m",
            "graphrec",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env={**os.environ, "GRAPHREC_LOG_LEVEL": "warning", **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    proc.log = log
    proc.temporary = temporary
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_bytes()[-2000:].decode(errors="replace")
            raise RuntimeError(f"API exited with {proc.returncode}; its log ends:\n{tail}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    tail = log.read_bytes()[-2000:].decode(errors="replace")
    raise RuntimeError(f"API did not answer /healthz within {timeout_s:g} s; its log ends:\n{tail}")


def stop_api(proc: subprocess.Popen[bytes]) -> None:
    """Stop the API, then check its log: no request may have reached the catch-all 500 (issue 25)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if isinstance(proc, ApiProcess):
        unhandled = [line for line in proc.log.read_bytes().splitlines() if b"unhandled error on " in line]
        assert unhandled == [], f"the API answered 500 (unhandled error): {unhandled[:3]!r} (log: {proc.log})"
        if proc.temporary:
            proc.log.unlink(missing_ok=True)
