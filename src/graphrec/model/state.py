"""A loaded model version as serving uses it: artifact, tuned blend, item neighbours and when its data ends.

It sits in the model layer so the recommendation code can take it as an argument without knowing
who loads and swaps it (``graphrec.serving.holder``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import BlendParams
from graphrec.model.item_neighbours import ItemNeighbours


@dataclass(frozen=True, eq=False)
class ModelState:
    version: str
    directory: Path
    artifact: ModelArtifact
    blend: BlendParams
    trained_at_ms: int
    neighbours: ItemNeighbours | None = None  # the new-user blend's third source (item_neighbours.npz)

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.artifact.metrics)


def trained_at_ms(artifact: ModelArtifact) -> int:
    """When the model's data ends: the snapshot's ``now_ms`` if recorded, else the version's creation."""
    snap = artifact.manifest.get("snapshot") or {}
    return int(snap.get("now_ms") or artifact.manifest.get("created_ms") or 0)
