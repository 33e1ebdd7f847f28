"""The API's cold-item table (:mod:`graphrec.recommend.cold_items`), kept in step with the served model
and the catalogue, off the request path.

:meth:`ColdItemsHolder.refresh` (the API's refresher, every ``model_poll_s``) rebuilds the table when the
served version or the catalogue view it was built from changed (a model swap, a catalogue refresh from
the store) and does nothing otherwise; :meth:`ColdItemsHolder.upserted` (the catalogue routes, after the
store acknowledged the write and the view took it) embeds just the upserted items, so an item is
recommendable the moment its upsert returns. Both run under one lock and read the model and the view
inside it, so a rebuild that read the view before an upsert can never replace that upsert's rows with
a table that lacks them. Requests read :attr:`ColdItemsHolder.table` (one reference, swapped whole).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from graphrec.graph.records import CatalogueItem
from graphrec.model.state import ModelState
from graphrec.recommend.cold_items import ColdItems, build_cold_items, with_upserted
from graphrec.recommend.popular import CatalogCache

logger = logging.getLogger(__name__)


class ServedModel(Protocol):
    @property
    def state(self) -> ModelState | None: ...


class ColdItemsHolder:
    """Holds the cold-item table of the served version (see the module docstring)."""

    def __init__(self, models: ServedModel, catalog: CatalogCache) -> None:
        self._models = models
        self._catalog = catalog
        self._lock = threading.Lock()
        self.table = ColdItems()

    def refresh(self) -> bool:
        """Rebuild if the served version or the catalogue view changed; True when rebuilt."""
        with self._lock:
            state, view = self._models.state, self._catalog.view
            version = state.version if state is not None else None
            if self.table.version == version and self.table.built_ms == view.built_ms:
                return False
            self.table = build_cold_items(state, view)
        if len(self.table):
            logger.info("cold items: %d catalogue items placed by content for model %s", len(self.table), version)
        return True

    def upserted(self, items: Sequence[CatalogueItem]) -> None:
        """A catalogue upsert the store acknowledged and the catalogue view took: embed the items the served
        version does not know. A table of another version (a swap the refresher has not followed yet) is
        rebuilt whole from the view, which holds the upsert already."""
        with self._lock:
            state = self._models.state
            if self.table.version != (state.version if state is not None else None):
                self.table = build_cold_items(state, self._catalog.view)
            else:
                self.table = with_upserted(self.table, state, items)
