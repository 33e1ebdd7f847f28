"""Opaque pagination cursors: a small JSON payload, signed, so a client can hand it back but not edit it.

Why signed: a cursor says where a list stopped (and, for recommendation lists, which items it already
returned); an edited one would page from somewhere the server never said, repeat items, or skip the
checks the payload carries. The HMAC key is ``Settings.cursor_key`` (every worker and restart shares
it). Why not encrypted: nothing in a cursor is secret, only its integrity matters.

Form: ``base64url(JSON) "." base64url(HMAC-SHA256(JSON)[:16])``, no padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

_MAC_BYTES = 16


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


def unseal(token: str, *, key: bytes) -> dict[str, Any]:
    """The payload of a cursor :func:`seal` made with ``key``; :class:`BadCursor` otherwise."""
    body_text, dot, mac_text = token.partition(".")
    if not dot or not body_text or not mac_text:
        raise BadCursor("not a cursor this API issued (use next_cursor as it came)")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise BadCursor("not a cursor this API issued (use next_cursor as it came)") from None
    if not hmac.compare_digest(mac, _mac(key, body)):
        raise BadCursor("the cursor was altered or was not issued by this API (use next_cursor as it came)")
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadCursor("not a cursor this API issued") from None
    if not isinstance(payload, dict):
        raise BadCursor("not a cursor this API issued")
    return payload
