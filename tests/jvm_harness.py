"""What the test servers that run on a JVM (Neo4j, Kafka) share: their jars resolved by Maven once and
the classpath cached (the product's :func:`graphrec.neo4j_local.maven.maven_classpath`, which
``graphrec neo4j start`` uses too), and a JVM that dies with the test process.

Why one home: the Neo4j and the Kafka harness each wrote these, line for line.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess

from graphrec.neo4j_local.maven import maven_classpath

__all__ = ["await_exit", "die_with_parent", "maven_classpath"]


def await_exit(proc: subprocess.Popen[bytes] | subprocess.Popen[str], *, grace_s: float = 30.0) -> None:
    """Wait for a JVM asked to stop (SIGTERM, or EOF on its stdin) to exit; kill it past ``grace_s``."""
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def die_with_parent() -> None:
    """preexec_fn: the kernel kills the JVM if the process that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
