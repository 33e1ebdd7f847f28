"""What the test servers that run on a JVM (Neo4j, Kafka) share: their jars resolved by Maven once and
the classpath cached, and a JVM that dies with the test process.

Why one home: the Neo4j and the Kafka harness each wrote these, line for line.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path


def maven_classpath(pom: Path, *, cache: str, what: str, error: type[Exception]) -> str:
    """The classpath of ``pom``'s dependencies: from ``~/.cache/graphrec/<cache>`` (keyed by the pom's
    hash) when every jar is still there, else resolved by Maven and cached. ``what`` names the server in
    the message of ``error``, raised when Maven is missing or fails."""
    key = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cached = Path(base) / "graphrec" / cache / f"{key}.classpath"
    if cached.exists():
        text = cached.read_text().strip()
        if text and all(Path(jar).exists() for jar in text.split(os.pathsep)):
            return text
    mvn = shutil.which("mvn")
    if mvn is None:
        raise error(f"Maven (mvn) is needed once to resolve the test {what}'s jars: install maven and Java 17+")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(pom), "dependency:build-classpath", f"-Dmdep.outputFile={tmp}"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0 or not tmp.exists():
        raise error(
            f"mvn could not resolve {pom} (exit {proc.returncode}):\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
        )
    os.replace(tmp, cached)
    return cached.read_text().strip()


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
