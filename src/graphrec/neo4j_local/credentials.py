"""The local Neo4j's password: the one the user sets, else one generated once; kept in a 0600 file.

Why a file: the server re-applies the password at every start and ``status`` and the printed settings
refer to it, so it must outlive the command that chose it; 0600 because it is a secret, readable by
its owner only (the file is created with that mode, never widened afterwards).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from graphrec.data.errors import UserError
from graphrec.neo4j_local.launch import MIN_PASSWORD


def check_password(password: str, *, source: str) -> str:
    """``password`` when Neo4j accepts it; a :class:`UserError` naming ``source`` otherwise."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"{source}: the Neo4j password needs {MIN_PASSWORD} characters or more")
    if any(ch.isspace() for ch in password):
        raise UserError(f"{source}: the Neo4j password may not contain spaces or line breaks")
    return password


def generate_password() -> str:
    """24 URL-safe random characters (144 bits)."""
    return secrets.token_urlsafe(18)


def read_password(path: Path) -> str | None:
    """The stored password, or None when none was stored yet."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def store_password(path: Path, password: str) -> None:
    """Write ``password`` to ``path`` with mode 0600 (replacing the file, so an older mode cannot stay)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (password + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
