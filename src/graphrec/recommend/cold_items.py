"""Cold items: catalogue items the served model version never saw, placed in its space by their content.

An item a catalogue upsert describes (a title, categories) but that had no interactions when the
version was trained has no row in the version's embeddings, so neither its ANN index nor its cosine
search can return it, and no list could ever show it. This table holds such items' embeddings from the
version's content path (:meth:`graphrec.model.artifact.ModelArtifact.embed_content`: the text
vectoriser and the content map fitted at training time), so the ranking code can search it beside the
version's own items: ``/similar`` by cosine, as the version's items are compared, and a user's list by
inner product with the user's vector, as the ANN ranks them (:mod:`graphrec.recommend.ranking`). An
item it proposes is marked content-based in ``explain``.

Built off the request path: in full by the API's refresher when the served version or the catalogue
view (a refresh from the store) changed, and for the upserted items alone when a catalogue upsert
arrives (:class:`graphrec.serving.cold_items_holder.ColdItemsHolder`), each time one vectorised
transform of the batch. Items with neither title nor category (an event's provisional item) have no
content and are left out; availability and the list filters are applied where every list applies them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from graphrec.graph.records import CatalogueItem
from graphrec.model.state import ModelState
from graphrec.recommend.popular import CatalogView


@dataclass(frozen=True, eq=False)
class ColdItems:
    """Content embeddings of cold items for one model ``version`` (an immutable snapshot: a request reads
    one reference and uses it to the end). ``built_ms``: the catalogue view (its ``built_ms``) it was
    computed from, so a refresher knows when to recompute."""

    version: str | None = None
    built_ms: int = -1
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._lookup

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {item_id: k for k, item_id in enumerate(self.ids.tolist())}

    @cached_property
    def _unit(self) -> np.ndarray:
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        unit: np.ndarray = (self.vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def vector(self, item_id: str) -> np.ndarray | None:
        """The item's content embedding, or None when it is not in the table."""
        k = self._lookup.get(item_id)
        return None if k is None else self.vectors[k]

    def nearest(
        self, query: np.ndarray, k: int, *, cosine: bool, exclude: Collection[str] = frozenset()
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, scores)`` of the ``k`` best cold items for ``query``, best first (ties by id), none in
        ``exclude``: cosine (similar items) or inner product (a user's vector). One matrix-vector product
        and one partial sort of the ``k + len(exclude)`` best, however many items the table holds."""
        if not len(self) or k <= 0:
            return np.zeros(0, dtype=str), np.zeros(0)
        q = np.asarray(query, np.float32)
        if cosine:
            scores = (self._unit @ (q / max(float(np.linalg.norm(q)), 1e-12))).astype(np.float64)
        else:
            scores = (self.vectors @ q).astype(np.float64)
        top = min(k + len(exclude), len(self))
        part = np.argpartition(-scores, top - 1)[:top]
        order = part[np.lexsort((self.ids[part], -scores[part]))]
        if exclude:
            order = order[[i not in exclude for i in self.ids[order].tolist()]]
        order = order[:k]
        return self.ids[order], scores[order]


def _content(items: Sequence[CatalogueItem]) -> list[CatalogueItem]:
    """The items that have any content to place them by (a title or a category)."""
    return [it for it in items if (it.title or "").strip() or it.categories]


def _embedded(state: ModelState, items: list[CatalogueItem]) -> tuple[np.ndarray, np.ndarray]:
    art = state.artifact
    vectors = art.embed_content([it.title or "" for it in items], [it.categories for it in items]) if items else None
    if vectors is None:
        return np.zeros(0, dtype=str), np.zeros((0, art.config.encoder.dim), np.float32)
    return np.array([it.id for it in items], dtype=str), vectors


def build_cold_items(state: ModelState | None, view: CatalogView) -> ColdItems:
    """Every item of ``view`` that ``state``'s version does not know and that has content, embedded."""
    if state is None or state.artifact.content is None or not view.titles:
        return ColdItems(version=state.version if state else None, built_ms=view.built_ms)
    ids = np.array(list(view.titles), dtype=str)
    unknown = ids[~np.isin(ids, state.artifact.item_ids.astype(str))]
    candidates = [
        CatalogueItem(id=i, title=view.titles.get(i), categories=view.categories.get(i, ())) for i in unknown.tolist()
    ]
    found, vectors = _embedded(state, _content(candidates))
    return ColdItems(version=state.version, built_ms=view.built_ms, ids=found, vectors=vectors)


def with_upserted(table: ColdItems, state: ModelState | None, items: Sequence[CatalogueItem]) -> ColdItems:
    """``table`` after a catalogue upsert of ``items``: each one the version does not know gets the
    embedding of its new content (or leaves the table when it has none left); only the batch is
    embedded. A table of another version is returned as it is (the refresher rebuilds it)."""
    if state is None or state.artifact.content is None or table.version != state.version:
        return table
    art = state.artifact
    unknown = [it for it in items if art.item_index(it.id) is None]
    if not unknown:
        return table
    touched = np.array([it.id for it in unknown], dtype=str)
    found, vectors = _embedded(state, _content(unknown))
    keep = ~np.isin(table.ids, touched)
    dim = vectors.shape[1] if len(found) else table.vectors.shape[1] if len(table) else art.config.encoder.dim
    old = table.vectors[keep] if len(table) else np.zeros((0, dim), np.float32)
    return ColdItems(
        version=table.version,
        built_ms=table.built_ms,
        ids=np.concatenate([table.ids[keep], found]),
        vectors=np.vstack([old, vectors]).astype(np.float32, copy=False),
    )


def merged(
    ids: np.ndarray, scores: np.ndarray, more_ids: np.ndarray, more_scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of two ``(ids, scores)`` lists scored by one measure (the version's items and the
    cold items), best first, ties by id: one list for the embedding side of the blend."""
    all_ids = np.concatenate([np.asarray(ids, dtype=str), np.asarray(more_ids, dtype=str)])
    all_scores = np.concatenate([np.asarray(scores, np.float64), np.asarray(more_scores, np.float64)])
    order = np.lexsort((all_ids, -all_scores))[:k]
    return all_ids[order], all_scores[order]
