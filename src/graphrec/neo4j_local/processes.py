"""The detached JVM seen from the commands that did not start it: is it alive, is it ours, stop it.

Why by pid file and /proc: ``graphrec neo4j start`` returns while the JVM keeps running, so ``stop`` and
``status`` (other processes, maybe hours later) find it through ``neo4j.pid``; a pid can be reused, so
a pid counts as the server only while its command line still names our launcher and our folder.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def is_alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed JVM whose parent has not reaped it yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and :func:`is_server` will say it is not ours
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): os.kill said it exists
    return state not in ("Z", "X")


def is_server(pid: int, home: Path) -> bool:
    """``pid`` is alive and runs ``Launcher.java`` on ``home`` (where /proc can tell)."""
    if not is_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid file
    decoded = [arg.decode(errors="replace") for arg in args]
    return any(arg.endswith("Launcher.java") for arg in decoded) and any(
        arg == str(home) or arg.startswith(str(home) + os.sep) for arg in decoded
    )


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def wait_gone(pid: int, deadline_s: float) -> bool:
    """True once ``pid`` has exited (or is a zombie), False if it still runs after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def terminate(pid: int, *, grace_s: float) -> bool:
    """SIGTERM (Neo4j shuts down cleanly), then SIGKILL past ``grace_s``; True if it stopped in grace."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if wait_gone(pid, grace_s):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    wait_gone(pid, 10.0)
    return False
