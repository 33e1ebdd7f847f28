"""Cursor pages and ``exclude=`` for the four recommendation lists (issue 15, point 5).

A list is ranked afresh on every page; the cursor (signed, :mod:`api.cursors`) carries what makes the
next page right: which list it belongs to (subject, category, ``exclude_seen``, ``diversity``, never
``k``, so page sizes may change), the model version it was ranked with, how many items were served,
and a digest of each served item, which the next page leaves out (:mod:`graphrec.recommend.paging`
says why by item and not by offset). Pages stop after :data:`MAX_DEPTH` items or when a page comes
back short (the ranking has nothing more). A cursor of another list, or an edited one, is a 422 on
``cursor``; a cursor made under another model version is a 409 on ``cursor``: start again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import HTTPException, Query, status

from api.cursors import BadCursor, seal, unseal
from api.errors import error_item
from api.schemas.errors import ErrorListPublic
from graphrec.config import Settings
from graphrec.ids import normalise_id
from graphrec.recommend.paging import MAX_DEPTH, MAX_EXCLUDE, LeaveOut, item_digest

# A cursor after 499 items with a 64-character model version is ~3.7 kB; URLs stay well under the
# server's limit on a request head (uvicorn: 16 kB), which a longer query would hit with a bare 400.
MAX_CURSOR_LENGTH = 4_096
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"


def bad_cursor(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(None, "cursor", reason)])


EXCLUDE_DESCRIPTION = (
    f"item ids never to return: comma-separated and/or repeated (at most {MAX_EXCLUDE}); an id "
    "holding a comma cannot be excluded"
)
CURSOR_DESCRIPTION = "next_cursor of the previous page of the same list"
ExcludeQuery = Annotated[list[str] | None, Query(description=EXCLUDE_DESCRIPTION)]
CursorQuery = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN, description=CURSOR_DESCRIPTION)
]

RANKING_CHANGED = {
    "model": ErrorListPublic,
    "description": "the list was ranked by another model version when the cursor was made: start again without cursor",
}


def id_parts(values: list[str] | None) -> list[str]:
    """The ids of a repeated and/or comma-separated query parameter, as sent (empty parts ignored)."""
    return [p for raw in values or () for p in raw.split(",") if p != ""]


def checked_ids(parts: list[str], field: str) -> list[str]:
    """``parts`` each held to the id rule (a 422 on ``field`` naming every one that breaks it),
    normalised, in first-seen order without repeats."""
    ids: dict[str, None] = {}
    problems = []
    for i, part in enumerate(parts):
        try:
            ids[normalise_id(part)] = None
        except ValueError as exc:
            problems.append(error_item(i, field, f"'{part[:64]}' is not an item id: {exc}"))
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    return list(ids)


def parse_exclude(values: list[str] | None) -> frozenset[str]:
    """The ``exclude=`` ids (split on commas, empty parts ignored), each held to the id rule (422)."""
    parts = id_parts(values)
    if len(parts) > MAX_EXCLUDE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [error_item(None, "exclude", f"at most {MAX_EXCLUDE} ids may be excluded, got {len(parts)}")],
        )
    return frozenset(checked_ids(parts, "exclude"))


def list_key(*identity: Any) -> str:
    """A short fingerprint of what makes a list that list (route, subject, filters; not ``k``)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ListPage:
    """One request's page of a list: its size, what it leaves out, what the cursor said."""

    key: str
    k: int
    leave_out: LeaveOut
    served: int = 0
    model_version: str | None = None
    continued: bool = False


def _digests(text: str) -> frozenset[int]:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) % 4:
        raise ValueError("digests")
    return frozenset(struct.unpack(f">{len(raw) // 4}I", raw))


def open_page(settings: Settings, *, key: str, cursor: str | None, exclude: list[str] | None, k: int) -> ListPage:
    """The page a request asks for: 422 on a bad ``exclude`` or a cursor that is not this list's."""
    ids = parse_exclude(exclude)
    if cursor is None:
        return ListPage(key, k, LeaveOut(ids=ids))
    try:
        payload = unseal(cursor, key=settings.cursor_key, previous=settings.cursor_previous_keys)
    except BadCursor as exc:
        raise bad_cursor(str(exc)) from None
    if payload.get("list") != key:
        raise bad_cursor(
            "this cursor belongs to another list (same path and parameters but k, exclude and explain needed)"
        )
    try:
        served, shown, version = int(payload["n"]), _digests(str(payload["shown"])), payload["model"]
    except (KeyError, TypeError, ValueError, binascii.Error, struct.error):
        raise bad_cursor("not a cursor this API issued") from None
    if not 0 < served < MAX_DEPTH or (version is not None and not isinstance(version, str)):
        raise bad_cursor("not a cursor this API issued")
    return ListPage(key, min(k, MAX_DEPTH - served), LeaveOut(ids=ids, shown=shown), served, version, True)


def ranking_changed() -> HTTPException:
    """The 409 of a cursor made under another model version (the list's ranking changed)."""
    return HTTPException(status.HTTP_409_CONFLICT, [error_item(None, "cursor", "ranking changed; start again")])


def close_page(
    settings: Settings, page: ListPage, *, item_ids: list[str], model_version: str | None, versioned: bool = True
) -> str | None:
    """The next page's cursor, or None when the list ends (a short page, or :data:`MAX_DEPTH` items
    served). A ``versioned`` list continued under another model version is a 409: its ranking changed."""
    if versioned and page.continued and page.model_version != model_version:
        raise ranking_changed()
    served = page.served + len(item_ids)
    if len(item_ids) < page.k or served >= MAX_DEPTH:
        return None
    shown = sorted(page.leave_out.shown | {item_digest(i) for i in item_ids})
    packed = base64.urlsafe_b64encode(struct.pack(f">{len(shown)}I", *shown)).rstrip(b"=").decode()
    return seal({"list": page.key, "model": model_version, "n": served, "shown": packed}, key=settings.cursor_key)
