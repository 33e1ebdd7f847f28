"""Opaque pagination cursors: a small JSON payload, signed, so a client can hand it back but not edit it.

Why signed: a cursor says where a list stopped (and, for recommendation lists, which items it already
returned); an edited one would page from somewhere the server never said, repeat items, or skip the
checks the payload carries. The HMAC key is ``Settings.cursor_key``: from ``GRAPHREC_CURSOR_SECRET``,
else from a secret generated once under the data directory (:func:`with_cursor_secret`), so every
worker and restart shares it and adding or rotating an API key leaves outstanding cursors valid.
During a rotation of the cursor secret itself, cursors signed with ``GRAPHREC_CURSOR_SECRET_PREVIOUS``
are still accepted. Why not encrypted: nothing in a cursor is secret, only its integrity matters.

Form: ``base64url(JSON) "." base64url(HMAC-SHA256(JSON)[:16])``, no padding.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from graphrec.config import Settings

_MAC_BYTES = 16
CURSOR_SECRET_FILE = "cursor.secret"


def load_or_create_secret(path: Path) -> str:
    """The secret kept in ``path``, generated (random, 0600) the first time.

    Why a file: worker processes of one host share the data directory, so they agree on the secret
    without configuration, and it survives restarts. Created as a temporary file, then linked into
    place, which fails when another worker got there first: everyone then reads the same winner."""
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise RuntimeError(f"{path} is empty: delete it and restart to generate a new cursor secret")
    return secret


def with_cursor_secret(settings: Settings) -> Settings:
    """``settings`` with ``cursor_secret`` filled in from ``DATA_DIR/cursor.secret`` when it is unset
    (what the API serves with; see the module docstring)."""
    if settings.cursor_secret is not None and settings.cursor_secret.get_secret_value():
        return settings
    secret = load_or_create_secret(settings.data_dir / CURSOR_SECRET_FILE)
    return settings.model_copy(update={"cursor_secret": SecretStr(secret)})


class BadCursor(ValueError):
    """A cursor that is malformed, was edited, or belongs to another list (the API answers 422)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def seal(payload: dict[str, Any], *, key: bytes) -> str:
    """``payload`` (JSON-serialisable) as a signed cursor."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def unseal(token: str, *, key: bytes, previous: Sequence[bytes] = ()) -> dict[str, Any]:
    """The payload of a cursor :func:`seal` made with ``key`` (or one of the ``previous`` keys of a
    rotation); :class:`BadCursor` otherwise."""
    body_text, dot, mac_text = token.partition(".")
    if not dot or not body_text or not mac_text:
        raise BadCursor("not a cursor this API issued (use next_cursor as it came)")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise BadCursor("not a cursor this API issued (use next_cursor as it came)") from None
    if not any(hmac.compare_digest(mac, _mac(k, body)) for k in (key, *previous)):
        raise BadCursor("the cursor was altered or was not issued by this API (use next_cursor as it came)")
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadCursor("not a cursor this API issued") from None
    if not isinstance(payload, dict):
        raise BadCursor("not a cursor this API issued")
    return payload
