"""Identity operations on behaviour histories: an anonymous visitor becomes a known user; erasure.

Why here and not in the route: the rules (a user who withdrew consent gets no more history, a visitor
who opted out is not tied to an account, each anonymous id is merged on its own, an id with nothing to
merge is reported rather than refused) are the product's, whatever calls them. Each store operation
they use is atomic and idempotent, so a retried request finishes the job and never half-applies one
visitor's merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphrec.events.log import EventLog
from graphrec.graph.port import IdentityStore
from graphrec.ids import anonymous_node_id


class ConsentWithdrawn(Exception):  # noqa: N818 - reads as what happened
    """The user withdrew consent: their history may not be extended."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(f"user '{user_id}' withdrew consent; their history cannot be extended")


class VisitorOptedOut(Exception):  # noqa: N818 - reads as what happened
    """An anonymous visitor withdrew consent: tying their history to an account is the tracking they refused."""

    def __init__(self, anonymous_id: str) -> None:
        self.anonymous_id = anonymous_id
        super().__init__(
            f"anonymous visitor '{anonymous_id}' withdrew consent; their history cannot be merged into an account"
        )


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """Which anonymous ids had a history that is now the user's, and which had none."""

    merged: list[str]
    not_found: list[str]


def merge_anonymous(
    store: IdentityStore, *, user_id: str, anonymous_ids: Sequence[str], log: EventLog | None = None
) -> MergeOutcome:
    """Move each anonymous visitor's history (edges and seen events, and their event-log rows) onto
    ``user_id``, one atomic merge per visitor, repeated ids once; raises :class:`ConsentWithdrawn`
    (and merges nothing) when the user withdrew consent, :class:`VisitorOptedOut` (and merges nothing)
    when one of the visitors did (their consent sits on their ``anon:`` node, set by ``POST /v1/consent``).

    The log is merged whatever the store answered: a retry after a crash between the two finds the
    store already merged ("not found") and still moves the log rows (the log merge is idempotent)."""
    user = store.get_user(user_id=user_id)
    if user is not None and user.props.get("consent") is False:
        raise ConsentWithdrawn(user_id)
    visitors = list(dict.fromkeys(anonymous_ids))
    for anon in visitors:
        node = store.get_user(user_id=anonymous_node_id(anon))
        if node is not None and node.props.get("consent") is False:
            raise VisitorOptedOut(anon)
    merged: list[str] = []
    not_found: list[str] = []
    for anon in visitors:
        found = store.merge_users(source_id=anonymous_node_id(anon), target_id=user_id)
        if log is not None:
            found = log.merge(source=anonymous_node_id(anon), target=user_id) > 0 or found
        (merged if found else not_found).append(anon)
    return MergeOutcome(merged=merged, not_found=not_found)


def erase(store: IdentityStore, *, user_id: str, log: EventLog | None = None) -> bool:
    """Forget everything about the user (their node, edges, embedding, consent flag and seen events,
    the merged anonymous visitors' included) in one atomic store operation, then their event-log rows
    (merged visitors' rows are the user's by then); True if they existed in either.

    Store first: a failure between the two leaves only log rows, which a retried erasure deletes. The
    API erases more than this (tombstones, the log file's other tables, model files, the stores' files
    on disk): :mod:`graphrec.serving.erasure`."""
    existed = store.erase_user(user_id=user_id)
    if log is not None:
        existed = log.forget([user_id]) > 0 or existed
    return existed
