"""A throwaway Neo4j 5 server for tests and benchmarks: Neo4j's own test harness, started for real.

Why a JVM and not a fake: every Neo4j-only path (constraints, ``CALL (x) {}`` subqueries, vector
procedures, GDS, parameter coercion, ``execute_write`` retries) must run on the server users run.

- The product's launcher, the one ``graphrec neo4j start`` runs (``graphrec.neo4j_local``: ``pom.xml``
  with neo4j-harness, GDS and Browser; ``Launcher.java``): its jars are resolved by Maven once, into its
  local repository, and the classpath is cached under ``~/.cache/graphrec/neo4j`` keyed by the pom's
  hash, so a second run starts without Maven and without the network.
- ``Launcher.java`` runs as a single-file program; given only a work directory it binds Bolt to
  127.0.0.1 on a free port with authentication on and no HTTP, and prints ``READY <uri>``.
- The JVM dies with its parent: its stdin is our pipe (EOF stops it), it watches our pid, and
  ``PR_SET_PDEATHSIG`` kills it should both fail. ``stop()`` kills it and deletes its files (a throwaway:
  nothing to shut down cleanly for).
- It runs with the client compiler only (``JVM_OPTIONS``): a faster start for a short life.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from jvm_harness import await_exit, die_with_parent

from graphrec.neo4j_local import launch
from graphrec.neo4j_local.launch import USER

HERE = Path(__file__).resolve().parent
__all__ = ["USER", "HarnessError", "Neo4jHarness", "classpath", "wait_gone"]
_START_TIMEOUT_S = 240.0
# A test server lives minutes and runs small queries: the optimising compiler (C2) never pays for the CPU it
# takes, and on 2 cores that CPU is the start's. C1 only: READY in 12.4 s of CPU instead of 20.2 (measured
# on the 2-core box, load ~9: 26 s instead of 41 s of wall time).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1",)


class HarnessError(RuntimeError):
    """The test Neo4j could not be resolved or started; the message says what to install or read."""


def classpath() -> str:
    """The harness classpath, from the cache when every jar is still there, else from Maven."""
    return launch.classpath(HarnessError)


@dataclass
class Neo4jHarness:
    """One running test server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    heap: str = os.environ.get("GRAPHREC_NEO4J_HEAP", "2g")
    uri: str = ""
    password: str = ""
    _proc: subprocess.Popen[str] | None = None
    _work: Path | None = None
    _log: Path | None = None

    def start(self) -> Neo4jHarness:
        cp = classpath()
        self._work = Path(tempfile.mkdtemp(prefix="graphrec-neo4j-"))
        command = launch.java_command(
            cp, heap=self.heap, work=self._work / "server", options=[], error=HarnessError, jvm_options=JVM_OPTIONS
        )
        self._log = self._work / "launcher.log"
        self.password = secrets.token_hex(16)
        env = {**os.environ, launch.PASSWORD_ENV: self.password}
        log = self._log.open("w")
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            preexec_fn=die_with_parent,
        )
        log.close()
        self.uri = self._wait_ready()
        return self

    def _wait_ready(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                if line.startswith("READY "):
                    found.append(line.split()[1])
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(_START_TIMEOUT_S)
        if not found:
            tail = self._log.read_text()[-3000:] if self._log and self._log.exists() else ""
            self.stop()
            raise HarnessError(f"the test Neo4j did not become ready in {_START_TIMEOUT_S:.0f} s:\n{tail}")
        return found[0]

    def stop(self) -> None:
        """Kill the JVM and delete its files: a clean shutdown (12 s: Bolt's network threads wind down with
        quiet periods) would only checkpoint a store that is deleted next."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.kill()
            await_exit(proc)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> Neo4jHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_gone(pid: int, timeout_s: float = 30.0) -> bool:
    """True once ``pid`` no longer exists (for tests that prove no JVM outlives its parent)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
