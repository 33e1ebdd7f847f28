"""Which items a page of a recommendation list must leave out: the caller's ``exclude=`` ids and
whatever the list's earlier pages returned.

Why earlier pages are remembered by item and not by position: a list is ranked afresh on every page,
and the ranking moves between two pages without the model changing. The user's own events (seconds
old) reseed the traversal and the inductive user vector, ``exclude_seen`` drops what they just viewed,
the trending list is rebuilt every minute, and a deeper page asks each source for more candidates,
which shifts the min-max normalisation of the blend. An offset into the new ranking would then repeat
items or skip them. A page computed as "the best items not shown yet" repeats nothing, however the
ranking moved; an item can only be missed by moving from below the pages already served to above them.

The items shown are kept as 4-byte digests (:func:`item_digest`) in the API's cursor: 500 items
(:data:`MAX_DEPTH`) fit in 2 kB. Two ids sharing a digest (about one pair in 10^4 among 500 shown
items and a thousand candidates) can only hide an item, never repeat one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container
from dataclasses import dataclass

MAX_DEPTH = 500
"""How many items of one list its pages serve at most (page after page); the last page stops there."""

MAX_EXCLUDE = 500
"""How many ids one request may exclude."""


def item_digest(item_id: str) -> int:
    """A 4-byte digest of an item id: how a cursor remembers that a page returned the item."""
    return int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=4).digest(), "big")


@dataclass(frozen=True, slots=True)
class LeaveOut:
    """Items a page must not contain: ``ids`` (the caller's ``exclude=``) and ``shown`` (digests of
    the items earlier pages of the same list returned)."""

    ids: frozenset[str] = frozenset()
    shown: frozenset[int] = frozenset()

    def __contains__(self, item_id: object) -> bool:
        if not isinstance(item_id, str):
            return False
        return item_id in self.ids or (bool(self.shown) and item_digest(item_id) in self.shown)

    def __len__(self) -> int:
        """How many candidates it may remove at most: what a source is asked for in addition."""
        return len(self.ids) + len(self.shown)


@dataclass(frozen=True, slots=True)
class Skip:
    """What a list leaves out, as one container: ``seen`` (``exclude_seen``) and the page's :class:`LeaveOut`."""

    seen: Container[str]
    leave_out: LeaveOut

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.seen or item_id in self.leave_out
