"""The Java command line that runs ``Launcher.java`` (this folder) on the jars of ``pom.xml``.

Why one home: the analyst's local server and the tests' throwaway server are the same program on the
same jars; only the launcher's options differ (see the comment at the top of ``Launcher.java``).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from graphrec.neo4j_local.maven import maven_classpath

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LAUNCHER = HERE / "Launcher.java"
USER = "neo4j"
PASSWORD_ENV = "GRAPHREC_NEO4J_PASSWORD"  # how the launcher gets the password: never on the command line
MIN_PASSWORD = 8  # Neo4j 5's default minimum (dbms.security.auth_minimum_password_length)


def classpath(error: type[Exception]) -> str:
    """Neo4j (neo4j-harness), GDS and Browser's jars: cached, else resolved by Maven (first run only)."""
    return maven_classpath(POM, cache="neo4j", what="Neo4j", error=error)


def java_command(
    cp: str,
    *,
    heap: str,
    work: Path,
    options: list[str],
    error: type[Exception],
    jvm_options: Sequence[str] = (),
) -> list[str]:
    """``java ... Launcher.java WORK OPTIONS``; ``error`` when no Java is on the PATH. ``jvm_options`` go to
    the JVM before the launcher (the tests' throwaway server trades peak speed for a faster start)."""
    java = shutil.which("java")
    if java is None:
        raise error("Java 17+ (java on PATH) is needed to run Neo4j")
    return [
        java,
        f"-Xmx{heap}",
        "-XX:+UseParallelGC",
        "-XX:+ExitOnOutOfMemoryError",
        *jvm_options,
        "-cp",
        cp,
        str(LAUNCHER),
        str(work),
        *options,
    ]
