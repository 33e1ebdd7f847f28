"""``graphrec neo4j start | stop | status``: a local Neo4j 5 with Browser, run detached, data kept.

Why: analysts want Browser on graphrec's graph without Docker. The server is the tests' launcher
(``Launcher.java`` on the jars of ``pom.xml``) in its detached mode: the databases under
``<data dir>/neo4j/data`` (kept across restarts), Bolt and HTTP on loopback with a discovery document
naming the Bolt port really bound, and a small file server for the Browser guide (generated from
``graph/queries/*.cypher`` at every start) and style sheet. The three commands are separate
processes: they meet through the files of :class:`~graphrec.neo4j_local.layout.Layout`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from graphrec.data.errors import UserError
from graphrec.neo4j_local import credentials, launch, processes
from graphrec.neo4j_local.guide import guide_html, saved_queries
from graphrec.neo4j_local.layout import Layout

STYLE = Path(__file__).resolve().parent / "style.grass"
HOST = "localhost"  # the name the launcher advertises and Browser allows guides from


@dataclass(frozen=True, slots=True)
class Ports:
    """Bolt, HTTP (Browser) and the file server's (guide, style) ports; all on 127.0.0.1."""

    bolt: int = 7687
    http: int = 7474
    files: int = 7475


@dataclass(frozen=True, slots=True)
class Running:
    """A local Neo4j that answers (or did when ``start`` returned)."""

    pid: int
    ports: Ports

    @property
    def bolt_uri(self) -> str:
        return f"bolt://{HOST}:{self.ports.bolt}"

    @property
    def browser_url(self) -> str:
        return f"http://{HOST}:{self.ports.http}/browser/"

    @property
    def guide_url(self) -> str:
        return f"http://{HOST}:{self.ports.files}/guide.html"

    @property
    def style_url(self) -> str:
        return f"http://{HOST}:{self.ports.files}/style.grass"


@dataclass(frozen=True, slots=True)
class Started:
    """What ``start`` did: the server, the generated password (only the start that generated it), whether
    it was running already, and how many saved queries the guide holds."""

    server: Running
    generated_password: str | None
    already_running: bool
    guide_queries: int


def status(layout: Layout) -> Running | None:
    """The running server of ``layout``, or None (a stale pid file counts as stopped)."""
    pid = processes.read_pid(layout.pid_file)
    if pid is None or not processes.is_server(pid, layout.home):
        return None
    try:
        ports = Ports(**json.loads(layout.ports_file.read_text()))
    except (OSError, ValueError, TypeError):
        ports = Ports()
    return Running(pid, ports)


def _forget(layout: Layout) -> None:
    for path in (layout.pid_file, layout.ports_file):
        path.unlink(missing_ok=True)


def _check_ports(ports: Ports) -> None:
    named = {"--bolt-port": ports.bolt, "--http-port": ports.http, "--files-port": ports.files}
    if len(set(named.values())) != len(named):
        raise UserError(f"the ports must differ: {', '.join(f'{k} {v}' for k, v in named.items())}")
    for option, port in named.items():
        if not 0 < port < 65536:
            raise UserError(f"{option} {port}: not a TCP port (1-65535)")
        with socket.socket() as probe:
            # as Neo4j binds: a port whose last connections still linger (TIME_WAIT) is free to listen on
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise UserError(f"{option} {port}: the port is in use; choose another with {option}") from None


def _choose_password(layout: Layout, given: str | None, source: str) -> tuple[str, bool]:
    """(password, generated now): the given one, else the stored one, else a new one."""
    if given is not None:
        return credentials.check_password(given, source=source), False
    stored = credentials.read_password(layout.password_file)
    if stored is not None:
        return stored, False
    return credentials.generate_password(), True


def write_browser_files(folder: Path, queries: Path | None) -> int:
    """``guide.html`` (from the saved queries in ``queries``, if any) and ``style.grass`` into ``folder``;
    how many queries the guide holds."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STYLE, folder / "style.grass")
    found = saved_queries(queries) if queries is not None else []
    (folder / "guide.html").write_text(guide_html(found), encoding="utf-8")
    return len(found)


def _ready_line(log: Path, offset: int) -> str | None:
    with log.open("rb") as f:
        f.seek(offset)
        for raw in f.read().decode(errors="replace").splitlines():
            if raw.startswith("READY "):
                return raw
    return None


def start(
    layout: Layout,
    *,
    ports: Ports,
    password: str | None,
    password_source: str,
    queries: Path | None,
    heap: str,
    timeout_s: float,
) -> Started:
    """Start the local Neo4j detached and wait until it answers (at most ``timeout_s``).

    Already running: nothing is started, and its ports are reported. A start that fails or runs past the
    deadline is stopped again and raises a :class:`UserError` naming the log.
    """
    running = status(layout)
    if running is not None:
        return Started(running, None, True, write_browser_files(layout.browser_files, queries))
    _forget(layout)
    chosen, generated = _choose_password(layout, password, password_source)
    _check_ports(ports)
    command = launch.java_command(
        launch.classpath(UserError),
        heap=heap,
        work=layout.work,
        options=[
            "--detached",
            "--data-dir",
            str(layout.data),
            "--bolt-port",
            str(ports.bolt),
            "--http-port",
            str(ports.http),
            "--static-dir",
            str(layout.browser_files),
            "--static-port",
            str(ports.files),
        ],
        error=UserError,
    )
    layout.home.mkdir(parents=True, exist_ok=True)
    credentials.store_password(layout.password_file, chosen)
    shutil.rmtree(layout.work, ignore_errors=True)  # what a killed JVM left behind
    count = write_browser_files(layout.browser_files, queries)
    with layout.log_file.open("ab") as log:
        log.write(f"--- graphrec neo4j start {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n".encode())
        log.flush()
        offset = log.tell()
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=layout.home,
            env={**os.environ, launch.PASSWORD_ENV: chosen},
            start_new_session=True,  # detached: no terminal signal reaches it; `stop` does
        )
    layout.pid_file.write_text(f"{proc.pid}\n")
    layout.ports_file.write_text(json.dumps({"bolt": ports.bolt, "http": ports.http, "files": ports.files}))
    try:
        _await_ready(proc, layout.log_file, offset, timeout_s)
    except BaseException:
        processes.terminate(proc.pid, grace_s=30.0)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        _forget(layout)
        raise
    return Started(Running(proc.pid, ports), chosen if generated else None, False, count)


def _await_ready(proc: subprocess.Popen[bytes], log: Path, offset: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _ready_line(log, offset) is None:
        code = proc.poll()
        if code is not None:
            raise UserError(f"the local Neo4j exited with code {code} while starting: see {log}")
        if time.monotonic() >= deadline:
            raise UserError(f"the local Neo4j did not answer within {timeout_s:.0f} s (--timeout): see {log}")
        time.sleep(0.5)


def stop(layout: Layout, *, grace_s: float) -> int | None:
    """Stop the local Neo4j (SIGTERM, SIGKILL past ``grace_s``); its pid, or None if none was running."""
    running = status(layout)
    if running is None:
        _forget(layout)
        return None
    processes.terminate(running.pid, grace_s=grace_s)
    _forget(layout)
    return running.pid
