"""The one reference to the model being served, and its atomic hot swap.

``ModelHolder.state`` is an immutable :class:`ModelState` (or ``None`` when no model is published).
A request reads the reference once and uses that object to the end, so swapping the reference
(a single attribute assignment) never affects in-flight requests. New versions are loaded fully
(arrays, index, blend weight) by :meth:`ModelHolder.check` in a worker thread before the swap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import BlendParams, ensure_blend, load_blend
from graphrec.model.pipeline import current_version
from graphrec.model.state import ModelState, trained_at_ms
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)


def load_state(directory: Path, *, default_alpha: float,
               snapshot: Callable[[], Snapshot] | None = None) -> ModelState:
    """Load a version fully; tune its blend first when ``blend.json`` is absent and a snapshot is available."""
    artifact = ModelArtifact.load(directory)
    blend = load_blend(directory)
    if blend is None and snapshot is not None:
        try:
            blend = ensure_blend(directory, artifact, snapshot)
        except Exception:
            logger.warning("blend tuning failed for %s; using the default alpha", directory.name, exc_info=True)
    if blend is None:
        blend = BlendParams(alpha=default_alpha, source="default")
    return ModelState(version=artifact.version, directory=directory, artifact=artifact, blend=blend,
                      trained_at_ms=trained_at_ms(artifact))


class ModelHolder:
    """Serves ``state``; :meth:`check` loads and swaps in the version ``CURRENT`` names, if it changed."""

    def __init__(self, models_path: Path, *, default_alpha: float = 0.5,
                 snapshot: Callable[[], Snapshot] | None = None) -> None:
        self.models_path = models_path
        self.default_alpha = default_alpha
        self.snapshot = snapshot
        self.state: ModelState | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()  # one loader at a time; readers never take it

    def check(self) -> bool:
        """Load the ``CURRENT`` version if it differs from the served one; True when swapped."""
        with self._lock:
            name = current_version(self.models_path)
            if name is None or (self.state is not None and self.state.directory.name == name):
                return False
            try:
                new = load_state(self.models_path / name, default_alpha=self.default_alpha,
                                 snapshot=self.snapshot)
            except Exception as exc:
                self.last_error = f"loading model {name} failed: {type(exc).__name__}"
                logger.exception("could not load model version %s; still serving %s", name,
                                 self.state.version if self.state else "no model")
                return False
            old = self.state
            self.state = new  # the swap: one reference assignment
            self.last_error = None
            logger.info("serving model %s (was %s, blend alpha %.2f %s)", new.version,
                        old.version if old else "none", new.blend.alpha, new.blend.source)
            return True
