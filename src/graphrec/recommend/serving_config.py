"""The serving parameters of a recommendation, read once from ``Settings``.

Why one object: the API, the offline new-user protocol and the train-time new-user tuner must compute
a list the same way, or the tuner tunes weights for lists the API never serves and the evaluation
reports numbers the API never reaches. Each used to read ``Settings`` on its own; now each gets a
:class:`ServingConfig`, and the rules derived from it (how many candidates to ask each source for)
live here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphrec.config import Settings


@dataclass(frozen=True, slots=True)
class TraversalLimits:
    """The traversal's caps (``Settings.traversal_seed_items``, ``traversal_fanout``, ``cograph_co_items``)."""

    seed_items: int
    fanout: int
    co_items: int


@dataclass(frozen=True, slots=True)
class ServingConfig:
    """How recommendations are computed: the seeds' decay, the candidates per source, the traversal's
    caps, the blend of a version without a tuned one, the trending window and the history read's
    deadline."""

    half_life_days: float
    candidates_per_source: int
    traversal: TraversalLimits
    default_alpha: float
    window_days: float
    history_timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ServingConfig:
        return cls(
            half_life_days=settings.half_life_days,
            candidates_per_source=settings.candidates_per_source,
            traversal=TraversalLimits(
                settings.traversal_seed_items, settings.traversal_fanout, settings.cograph_co_items
            ),
            default_alpha=settings.blend_default_alpha,
            window_days=settings.popular_window_days,
            history_timeout_s=settings.history_timeout_s,
        )

    def candidate_limit(self, k: int, *, exclude_seen: bool, n_seen: int, left_out: int = 0) -> int:
        """Candidates asked of each source for a user's list of ``k``: enough to survive filtering the
        ``n_seen`` seen items and diversifying, plus as many as the page may leave out (``left_out``:
        earlier pages and ``exclude=``) so it still fills."""
        return max(self.candidates_per_source, k * 3 + (n_seen if exclude_seen else 0)) + left_out

    def similar_limit(self, k: int, *, left_out: int = 0) -> int:
        """Candidates asked of each source for an item's ``k`` neighbours, plus what the page leaves out."""
        return max(self.candidates_per_source, k) + left_out
