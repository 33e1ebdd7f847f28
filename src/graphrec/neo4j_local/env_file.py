"""Writing graphrec's settings for the local Neo4j into a ``.env`` file (``start --write-env``).

Why not just print them: ``.env`` is where :class:`graphrec.config.Settings` looks, so every later
command talks to the local Neo4j without exports. Other lines of the file are kept; the file holds a
password, so it is left readable by its owner only (mode 0600).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_PLAIN = re.compile(r"^[A-Za-z0-9_.:/@+=,-]*$")


def env_value(value: str) -> str:
    """``value`` as a ``.env`` line writes it: bare when plain, else double-quoted with escapes."""
    if _PLAIN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def update_env_file(path: Path, values: dict[str, str]) -> None:
    """Set ``values`` in ``path``: a line ``KEY=...`` (or ``export KEY=...``) is replaced, a missing key
    appended, every other line kept as it was."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    pending = dict(values)
    out: list[str] = []
    for line in lines:
        key = line.strip().removeprefix("export ").split("=", 1)[0].strip()
        if "=" in line and key in pending:
            out.append(f"{key}={env_value(pending.pop(key))}")
        else:
            out.append(line)
    out.extend(f"{key}={env_value(value)}" for key, value in pending.items())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, ("\n".join(out) + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
