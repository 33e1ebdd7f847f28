"""A JVM server's classpath from a Maven ``pom.xml``: resolved by Maven once, then cached.

Why cached: Maven takes seconds to answer even with every jar local, and needs the network the first
time; the classpath cached under ``~/.cache/graphrec/<cache>/`` (keyed by the pom's hash, checked jar by
jar) lets a later start run without Maven and without the network. The local Neo4j, the tests' Neo4j
and the tests' Kafka broker all resolve their jars here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

_MAVEN_TIMEOUT_S = 1800  # the first resolution downloads a few hundred MB


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/graphrec`` (``~/.cache/graphrec`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "graphrec"


def maven_classpath(pom: Path, *, cache: str, what: str, error: type[Exception]) -> str:
    """The classpath of ``pom``'s dependencies: from ``~/.cache/graphrec/<cache>`` (keyed by the pom's
    hash) when every jar is still there, else resolved by Maven and cached. ``what`` names the server in
    the message of ``error``, raised when Maven is missing or fails."""
    key = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    cached = cache_root() / cache / f"{key}.classpath"
    if cached.exists():
        text = cached.read_text().strip()
        if text and all(Path(jar).exists() for jar in text.split(os.pathsep)):
            return text
    mvn = shutil.which("mvn")
    if mvn is None:
        raise error(f"Maven (mvn) is needed once to resolve the {what} jars: install maven and Java 17+")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(pom), "dependency:build-classpath", f"-Dmdep.outputFile={tmp}"],
        capture_output=True,
        text=True,
        timeout=_MAVEN_TIMEOUT_S,
    )
    if proc.returncode != 0 or not tmp.exists():
        tail = " ".join(f"{proc.stdout[-2000:]} {proc.stderr[-2000:]}".split())
        raise error(f"mvn could not resolve {pom} (exit {proc.returncode}): {tail}")
    os.replace(tmp, cached)
    return cached.read_text().strip()
