"""User tokens: how a web page proves which signed-in user it acts for (issue 25, point 1).

Why: a publishable key ships in every page, so it proves nothing about the visitor. A request that
names a ``user_id`` with such a key also carries a user token that the site's own backend minted for
that one user, signed with a secret the page never sees (``GRAPHREC_USER_TOKEN_SECRET``); the same
pattern as Algolia's secured API keys or Stripe's ephemeral keys. This module is the one home of the
format, the minting and the verification; the API only turns a :class:`InvalidUserToken` into an
HTTP answer.

The format (version ``v1``), simple enough to mint in five lines in any language::

    payload   = base64url(JSON {"sub": user_id, "iat": issued_at_epoch_s, "exp": expires_epoch_s})
    signature = base64url(HMAC-SHA256(key=secret, message="v1." + payload))
    token     = "v1." + payload + "." + signature

``base64url`` is RFC 4648 section 5 without ``=`` padding (padding is tolerated on input). A token
is valid when its version is ``v1``, its signature matches (compared in constant time), ``exp`` lies
in the future, ``iat`` is not more than :data:`CLOCK_SKEW_S` in the future and ``exp - iat`` is at
most :data:`MAX_TTL_S` (24 h): a leaked token stops working within a day whatever its minter chose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Final

from graphrec.ids import normalise_id

VERSION: Final = "v1"
DEFAULT_TTL_S: Final = 3_600
MAX_TTL_S: Final = 86_400
CLOCK_SKEW_S: Final = 60
"""How far in the future a token's ``iat`` may lie (the minting backend's clock runs ahead)."""
MIN_SECRET_LENGTH: Final = 32
MIN_SECRET_DISTINCT: Final = 8
MAX_TOKEN_LENGTH: Final = 2_048
"""Longer tokens are refused before any decoding (a user id is at most 256 characters)."""


class InvalidUserToken(ValueError):  # noqa: N818 - reads as what the token is
    """The token is not a valid user token; ``reason`` says why, for the caller to show."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class UserToken:
    """A verified token: the user it acts for and its lifetime (epoch seconds)."""

    user_id: str
    issued_at: int
    expires_at: int


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign user tokens, or None: anyone who guesses it can act for
    every user, so it must be long and not a repeated pattern (``secrets.token_urlsafe(32)`` is)."""
    if len(secret) < MIN_SECRET_LENGTH:
        return (
            f"must be at least {MIN_SECRET_LENGTH} characters (e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        return f"must use at least {MIN_SECRET_DISTINCT} distinct characters (a random string, not a pattern)"
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidUserToken("is not base64url") from None


def _signature(secret: str, signed: str) -> bytes:
    return hmac.new(secret.encode(), signed.encode("ascii"), hashlib.sha256).digest()


def mint_user_token(secret: str, user_id: str, ttl_s: int = DEFAULT_TTL_S, *, now: int) -> str:
    """A ``v1`` token for ``user_id`` valid ``ttl_s`` seconds from ``now`` (epoch seconds).

    Pure (the clock is an argument), so a test or another backend can reproduce a token exactly.
    ``ValueError`` for a weak secret, an invalid user id (:mod:`graphrec.ids`) or a lifetime outside
    1 s .. :data:`MAX_TTL_S`."""
    problem = secret_problem(secret)
    if problem is not None:
        raise ValueError(f"user token secret {problem}")
    try:
        user_id = normalise_id(user_id)
    except ValueError as exc:
        raise ValueError(f"user_id {exc}") from None
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be 1 to {MAX_TTL_S} seconds (24 h), not {ttl_s}")
    claims = {"sub": user_id, "iat": now, "exp": now + ttl_s}
    payload = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    signed = f"{VERSION}.{payload}"
    return f"{signed}.{_b64(_signature(secret, signed))}"


def _int_claim(claims: dict[str, object], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidUserToken(f"has no integer '{name}' claim (epoch seconds)")
    return value


def verify_user_token(secret: str, token: str, *, now: int) -> UserToken:
    """The user ``token`` acts for, or :class:`InvalidUserToken` saying why it does not count.

    The signature is checked (in constant time) before the payload is read, so nothing an attacker
    wrote is parsed unless the secret's holder signed it."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidUserToken(f"is longer than {MAX_TOKEN_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidUserToken("is malformed: expected 'v1.<payload>.<signature>'")
    version, payload, signature = parts
    if version != VERSION:
        raise InvalidUserToken(f"has unsupported version {version[:16]!r}; expected {VERSION!r}")
    expected = _signature(secret, f"{version}.{payload}")
    try:
        given = _unb64(signature)
    except InvalidUserToken:
        given = b""
    if not hmac.compare_digest(given, expected):
        raise InvalidUserToken("has an invalid signature (tampered, or signed with another secret)")
    try:
        claims = json.loads(_unb64(payload))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidUserToken("has a payload that is not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidUserToken("has a payload that is not a JSON object")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidUserToken("has no 'sub' claim (the user id)")
    try:
        sub = normalise_id(sub)  # the API compares it with NFC-normalised ids
    except ValueError as exc:
        raise InvalidUserToken(f"names an invalid user id: it {exc}") from None
    iat, exp = _int_claim(claims, "iat"), _int_claim(claims, "exp")
    if exp <= now:
        raise InvalidUserToken(f"expired {now - exp} s ago; mint a new one")
    if iat > now + CLOCK_SKEW_S:
        raise InvalidUserToken("was issued in the future ('iat'); check the minting server's clock")
    if exp - iat > MAX_TTL_S:
        raise InvalidUserToken(f"lives {exp - iat} s; at most {MAX_TTL_S} s (24 h) are accepted")
    return UserToken(user_id=sub, issued_at=iat, expires_at=exp)
