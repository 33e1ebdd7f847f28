"""Re-apply a (changed) weighting policy to every stored edge from its per-type aggregates.

Reads pages of edges with their aggregates, computes ``policy.weight_of(n_t, s_t)`` and writes the
weights back (the store saturates each at the policy's cap, ``[saturation] max_weight``) with an
optimistic check on the edge's ``count`` (which only grows): an edge that a concurrent ingestion
changed in between is re-read and recomputed, so no increment is lost. Edges whose per-type counts
do not account for all of their events (e.g. imported without types) cannot be recomputed and keep
their weight and cap; they are reported as ``skipped``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from graphrec.events.policy import POLICY_VERSION_META_KEY, WeightPolicy
from graphrec.graph.port import GraphStore, WeightUpdate
from graphrec.graph.records import Interaction

logger = logging.getLogger(__name__)

_MAX_RETRIES = 5


@dataclass(slots=True)
class ReweighReport:
    policy_version: str
    edges: int = 0
    updated: int = 0
    skipped: int = 0
    retried: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _updates(edges: list[Interaction], policy: WeightPolicy, report: ReweighReport) -> list[WeightUpdate]:
    out = []
    for e in edges:
        if not e.type_counts or sum(e.type_counts.values()) != e.count:
            report.skipped += 1
            continue
        out.append(
            WeightUpdate(
                e.user_id, e.item_id, policy.weight_of(e.type_counts, e.value_sums), e.count, policy.weight_cap
            )
        )
    return out


def reweigh(store: GraphStore, policy: WeightPolicy, *, page_size: int = 10_000) -> ReweighReport:
    """Recompute every edge weight with ``policy`` and record its version in the store's (:Meta)."""
    report = ReweighReport(policy_version=policy.version)
    for page in store.iter_interaction_aggregates(page_size=page_size):
        report.edges += len(page)
        updates = _updates(page, policy, report)
        stale = store.set_interaction_weights(updates)
        report.updated += len(updates) - len(stale)
        for _ in range(_MAX_RETRIES):
            if not stale:
                break
            report.retried += len(stale)
            wanted = set(stale)
            fresh = [
                e
                for uid in sorted({u for u, _ in stale})
                for e in store.user_interactions(user_id=uid, limit=1_000_000)
                if (e.user_id, e.item_id) in wanted
            ]
            updates = _updates(fresh, policy, report)
            stale = store.set_interaction_weights(updates)
            report.updated += len(updates) - len(stale)
        if stale:
            logger.warning("%d edges changed during every reweigh attempt; run reweigh again", len(stale))
    store.set_meta(key=POLICY_VERSION_META_KEY, value=policy.version)
    return report
