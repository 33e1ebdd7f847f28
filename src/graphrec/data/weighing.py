"""The vectorised hook through which importers turn events into edge weights.

Importers never hard-code weights: they call a ``Weigher`` with event-type codes (indexes into
``graphrec.event_types.EVENT_TYPES``) and values (NaN where a type has none), so file imports and
the live event API apply one policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from graphrec.config import Settings
from graphrec.graph.port import GraphStore

if TYPE_CHECKING:  # imported where it is used, as weigher_for does
    from graphrec.events.policy import PolicyWeigher


class Weigher(Protocol):
    def __call__(self, type_codes: np.ndarray, values: np.ndarray, /) -> np.ndarray:
        """Per-event weights (float64), same length as the inputs."""
        ...


def weigher_for(store: GraphStore, settings: Settings) -> PolicyWeigher:
    """The live event policy (``GRAPHREC_EVENTS_POLICY_PATH`` or the packaged one) with the dwell cap
    in force in ``store``: a file import weighs each event exactly as ``POST /v1/events`` would, and
    its ``weight_cap`` is the edge cap the import's deltas carry."""
    from graphrec.events.pipeline import current_dwell_cap
    from graphrec.events.policy import load_policy, policy_weigher

    policy = load_policy(settings.events_policy_path)
    return policy_weigher(policy, dwell_cap_s=current_dwell_cap(store, policy))
