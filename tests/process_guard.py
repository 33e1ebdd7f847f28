"""What makes a test an integration test: the servers a unit test may not start, and the refusal it gets
when it starts one anyway (``tests/conftest.py`` arms it around every unit test's setup and call)."""

from __future__ import annotations

import multiprocessing.process
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest


class ProcessInUnitTest(RuntimeError):
    """A test not marked ``integration`` tried to start a server (or a Python child)."""


# What a unit test may not start: servers (``java`` runs both the Neo4j harness and the Kafka broker with
# its log-directory formatter), browsers, Python children (the CLI, the API, ``graphrec consume``), the
# tools that fetch or build them. Short helpers that libraries run on their own (``uname``, ``ldconfig``,
# matplotlib's ``fc-list``) stay allowed.
SERVER_EXECUTABLES = frozenset(
    {
        "redis-server",
        "java",
        "mvn",
        "node",
        "npm",
        "npx",
        "chromium",
        "chromium-browser",
        "chrome",
        "docker",
        "uvicorn",
        "graphrec",
    }
)


def starts_a_server(args: Any, executable: Any) -> bool:
    """Whether ``subprocess.Popen(args, executable=executable)`` would start one of those."""
    if executable is not None:
        program = str(executable)
    elif isinstance(args, (str, bytes, os.PathLike)):
        words = shlex.split(os.fsdecode(args))
        program = words[0] if words else ""
    else:
        program = os.fsdecode(next(iter(args), ""))
    name = Path(program).name
    return program == sys.executable or name.startswith("python") or name in SERVER_EXECUTABLES


def refusing_processes(item: pytest.Item, refused: list[str]) -> pytest.MonkeyPatch:
    """The ways the suite starts servers (``subprocess``, and so asyncio's subprocesses, of the
    :data:`SERVER_EXECUTABLES` or Python; ``multiprocessing``), refused with the reason, which is also kept
    in ``refused``: a refusal in a thread the code under test swallows (an app's lifespan under
    TestClient) still fails the test."""

    def refuse(what: str) -> None:
        message = (
            f"{item.nodeid} started a process ({what}, in thread {threading.current_thread().name}) "
            "but is not an integration test: mark it (or its module) `pytest.mark.integration`, "
            "or have the fixture that starts it request `starts_processes`"
        )
        refused.append(message)
        raise ProcessInUnitTest(message)

    popen_init = subprocess.Popen.__init__

    def guarded_popen_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        if starts_a_server(args, kwargs.get("executable")):
            refuse(f"subprocess {args!r}"[:300])
        popen_init(self, args, *rest, **kwargs)

    def process_start(self: multiprocessing.process.BaseProcess) -> None:
        refuse(f"multiprocessing {self.name}")

    patch = pytest.MonkeyPatch()
    patch.setattr(subprocess.Popen, "__init__", guarded_popen_init)
    patch.setattr(multiprocessing.process.BaseProcess, "start", process_start)
    return patch
