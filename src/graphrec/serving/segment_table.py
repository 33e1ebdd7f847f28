"""The API's copy of the graph's segmentation: which segment each user is in, for the profile answer.

Why a table in memory: a profile is computed on every call and must stay cheap, so it reads the user's
segment from a dict rather than from the store; the table follows the store cheaply too, because a
segmentation stamps its run last (:data:`~graphrec.graph.port.SEGMENTATION_META_KEY`) and a refresh reads
that one value and reloads the members only when it changed.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from graphrec.graph.port import SEGMENTATION_META_KEY, ModelPublication, SegmentStore

logger = logging.getLogger(__name__)


class _SegmentSource(SegmentStore, ModelPublication, Protocol):
    """What a refresh reads: the stamp (a meta value) and the members."""


class SegmentTable:
    """``user id -> segment name``, swapped whole on a reload (a request reads one consistent table).

    How often :meth:`refresh` runs is the caller's policy (:class:`graphrec.serving.refresh.Refresher`).
    """

    def __init__(self) -> None:
        self.members: dict[str, str] = {}
        self.stamp: str | None = None

    def segment_of(self, user_id: str) -> str | None:
        return self.members.get(user_id)

    def refresh(self, store: _SegmentSource) -> bool:
        """Reload when the store holds another segmentation; True when it reloaded. Raises (keeping the
        current table) when the store fails."""
        stamp = store.get_meta(key=SEGMENTATION_META_KEY)
        if stamp == self.stamp:
            return False
        started = time.perf_counter()
        members = {user: name for page in store.iter_segment_members() for user, name in page}
        self.members, self.stamp = members, stamp
        logger.info(
            "segments: %s memberships of run %s in %.2fs", f"{len(members):,}", stamp, time.perf_counter() - started
        )
        return True
