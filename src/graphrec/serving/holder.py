"""The one reference to the model being served, and its atomic hot swap.

``ModelHolder.state`` is an immutable :class:`ModelState` (or ``None`` when no model is published).
A request reads the reference once and uses that object to the end, so swapping the reference
(a single attribute assignment) never affects in-flight requests. New versions are loaded fully
(arrays, index, blend weight) by :meth:`ModelHolder.check` in a worker thread before the swap.

Which version is current is the store's record (``graphrec.model.pipeline.published_version``),
so every replica over one store serves the same version whatever its local files say; the
``CURRENT`` file is read only while the store cannot be asked (known down, or the read fails).
Serving only loads: the blend weight was tuned when the version was trained (``blend.json``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.port import GraphStore
from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import BlendParams, load_blend
from graphrec.model.item_neighbours import NEIGHBOURS_FILE, ItemNeighbours
from graphrec.model.pipeline import current_version, published_version
from graphrec.model.state import ModelState, trained_at_ms
from graphrec.serving.refresh import Backoff
from graphrec.serving.store_health import StoreHealth

logger = logging.getLogger(__name__)


def load_state(directory: Path, *, default_alpha: float) -> ModelState:
    """Load a version fully, with its tuned blend (``default_alpha`` when it has no ``blend.json``)."""
    artifact = ModelArtifact.load(directory)
    blend = load_blend(directory)
    if blend is None:
        logger.warning(
            "model %s has no blend.json (not tuned when it was trained): serving it with the default alpha %.2f",
            directory.name,
            default_alpha,
        )
        blend = BlendParams(alpha=default_alpha, source="default")
    neighbours = ItemNeighbours.load(directory)
    if neighbours is not None and not np.array_equal(neighbours.item_ids, artifact.item_ids.astype(str)):
        raise ValueError(f"{directory / NEIGHBOURS_FILE} lists other items than the model: the version is damaged")
    return ModelState(
        version=artifact.version,
        directory=directory,
        artifact=artifact,
        blend=blend,
        trained_at_ms=trained_at_ms(artifact),
        neighbours=neighbours,
    )


class ModelHolder:
    """Serves ``state``; :meth:`check` loads and swaps in the current version, if it changed.

    A version that fails to load is retried under ``backoff`` (the old model keeps serving), while a
    newly published name is tried at once: a broken publish must not delay its fix.
    """

    def __init__(
        self, models_path: Path, *, store: GraphStore, health: StoreHealth, default_alpha: float, backoff: Backoff
    ) -> None:
        self.models_path = models_path
        self.store = store
        self.health = health
        self.default_alpha = default_alpha
        self.backoff = backoff
        self.state: ModelState | None = None
        self.last_error: str | None = None
        self._failed: str | None = None  # the version whose load failed last
        self._lock = threading.Lock()  # one loader at a time; readers never take it

    def current(self) -> str | None:
        """The version to serve: the store's record; the local ``CURRENT`` file while the store is
        known to be down or its read fails (a store hiccup must not unload or block a model)."""
        if self.health.up:
            try:
                return published_version(self.store)
            except StoreUnavailable as exc:
                self.health.failed(str(exc))
                logger.warning(
                    "current model version not read from the store (%s); using %s", exc, self.models_path / "CURRENT"
                )
        return current_version(self.models_path)

    def check(self) -> bool:
        """Load the current version if it differs from the served one; True when swapped."""
        with self._lock:
            name = self.current()
            if name is None or (self.state is not None and self.state.directory.name == name):
                return False
            if name == self._failed and not self.backoff.ready:
                return False
            try:
                new = load_state(self.models_path / name, default_alpha=self.default_alpha)
            except Exception as exc:
                if name != self._failed:
                    self.backoff.succeeded()  # a new name starts its own run of retries
                self._failed = name
                delay = self.backoff.failed()
                self.last_error = f"loading model {name} failed: {type(exc).__name__}"
                logger.exception(
                    "could not load model version %s; still serving %s; retry in %.0f s",
                    name,
                    self.state.version if self.state else "no model",
                    delay,
                )
                return False
            old = self.state
            self.state = new  # the swap: one reference assignment
            self.last_error = None
            self._failed = None
            self.backoff.succeeded()
            logger.info(
                "serving model %s (was %s, blend alpha %.2f %s)",
                new.version,
                old.version if old else "none",
                new.blend.alpha,
                new.blend.source,
            )
            return True
