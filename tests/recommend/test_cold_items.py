"""Cold items in the ranking (``graphrec.recommend.cold_items``): catalogue items the served version never
saw are embedded from their content, searched beside its own items in ``/similar`` and a user's list,
and explained as content-based."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphrec.graph.records import CatalogueItem, UserHistory
from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import BlendParams
from graphrec.model.config import ContentConfig, EncoderConfig, TrainConfig
from graphrec.model.state import ModelState
from graphrec.model.trainer import Trainer
from graphrec.recommend.cograph import CoInteractionIndex
from graphrec.recommend.cold_items import ColdItems, build_cold_items, merged, with_upserted
from graphrec.recommend.explain import CONTENT_BASED
from graphrec.recommend.popular import CatalogView
from graphrec.recommend.ranking import RecRequest, UserInputs, recommend_for_user, similar_items
from graphrec.recommend.serving_config import ServingConfig, TraversalLimits
from graphrec.snapshot import Snapshot
from tests.model.graphs import GROUP_WORDS, block_snapshot

ITEMS_PER_GROUP = 10


@pytest.fixture(scope="module")
def served() -> tuple[Snapshot, ModelState]:
    snap = block_snapshot(titles=True, items_per_group=ITEMS_PER_GROUP)
    config = TrainConfig(
        encoder=EncoderConfig(dim=16, layers=2),
        content=ContentConfig(text_dim=8),
        epochs=40,
        batch_size=64,
        validation_fraction=0.0,
        threads=1,
    )
    artifact = ModelArtifact.from_training(Trainer(config, progress=False).fit(snap), snap, version="v1", config=config)
    state = ModelState("v1", Path("v1"), artifact, BlendParams(alpha=0.5, source="fixed"), trained_at_ms=0)
    return snap, state


def catalogue(snap: Snapshot, *extra: CatalogueItem) -> CatalogView:
    """The trained items as the catalogue describes them, plus ``extra``."""
    trained = [
        CatalogueItem(i, title=t, categories=(f"c{k // ITEMS_PER_GROUP}",))
        for k, (i, t) in enumerate(zip(snap.item_ids.tolist(), snap.titles.tolist(), strict=True))
    ]
    return CatalogView(built_ms=5).with_items([*trained, *extra])


def group_of(item_id: str) -> int:
    return int(item_id[1:]) // ITEMS_PER_GROUP


class NoEdges:
    """The store's answer for an item the co-interaction index does not hold: no co-interactions (unit
    tests of the ranking only; the API tests run on the real store)."""

    def co_interaction_candidates_for_item(self, **_: object) -> list[object]:
        return []


CONFIG = ServingConfig(
    half_life_days=30.0,
    candidates_per_source=100,
    traversal=TraversalLimits(seed_items=10, fanout=50, co_items=400),
    default_alpha=0.5,
    window_days=30.0,
    history_timeout_s=1.0,
)


def test_nearest_ranks_by_cosine_or_inner_product_and_leaves_out_what_it_is_told() -> None:
    table = ColdItems(
        version="v1",
        ids=np.array(["a", "b", "c"]),
        vectors=np.array([[1.0, 0.0], [3.0, 3.0], [0.0, 1.0]], np.float32),
    )
    query = np.array([1.0, 0.2], np.float32)
    assert table.nearest(query, 3, cosine=True)[0].tolist() == ["a", "b", "c"]
    assert table.nearest(query, 3, cosine=False)[0].tolist() == ["b", "a", "c"]  # b's length counts
    assert table.nearest(query, 2, cosine=False, exclude={"b"})[0].tolist() == ["a", "c"]
    ids, scores = merged(np.array(["x", "y"]), np.array([0.9, 0.1]), *table.nearest(query, 3, cosine=True), 3)
    assert ids.tolist() == ["a", "x", "b"] and scores[0] >= scores[1] >= scores[2]


def test_the_table_holds_the_unknown_items_with_content_and_follows_upserts(
    served: tuple[Snapshot, ModelState],
) -> None:
    snap, state = served
    new = CatalogueItem("new1", title="orchard apples fresh", categories=("c0",))
    provisional = CatalogueItem("evt9")  # an event created it: no title, no category
    table = build_cold_items(state, catalogue(snap, new, provisional))
    assert table.ids.tolist() == ["new1"] and table.version == "v1" and table.built_ms == 5
    expected = state.artifact.embed_content([new.title or ""], [new.categories])
    assert expected is not None
    np.testing.assert_array_equal(table.vector("new1"), expected[0])

    renamed = CatalogueItem("new1", title="glacier ice", categories=("c2",))
    second = CatalogueItem("new2", categories=("c1",))  # a category is content enough
    known = CatalogueItem("i000", title="anything else")  # the version knows it: never a cold item
    after = with_upserted(table, state, [renamed, second, known])
    assert sorted(after.ids.tolist()) == ["new1", "new2"] and "i000" not in after
    assert not np.allclose(after.vector("new1"), table.vector("new1"))  # re-embedded from its new content
    emptied = with_upserted(after, state, [CatalogueItem("new2")])  # its content removed: no longer placeable
    assert emptied.ids.tolist() == ["new1"]
    stale = ColdItems(version="v0")
    assert with_upserted(stale, state, [second]) is stale  # another version's table waits for its rebuild


def test_a_cold_item_is_similar_to_the_items_of_its_content_and_says_so(served: tuple[Snapshot, ModelState]) -> None:
    snap, state = served
    cold_items = [
        CatalogueItem("new0", title=f"{GROUP_WORDS[0]} fresh", categories=("c0",)),
        CatalogueItem("new2", title=f"{GROUP_WORDS[2]} fresh", categories=("c2",)),
    ]
    view = catalogue(snap, *cold_items)
    table = build_cold_items(state, view)
    cograph = CoInteractionIndex.from_arrays(
        snap.user_ids[snap.rows], snap.item_ids[snap.indices], snap.weights, built_at_ms=1
    )

    def similar(item_id: str, cold: ColdItems | None) -> list[tuple[str, tuple[str, ...]]]:
        result = similar_items(
            item_id,
            8,
            store=NoEdges(),  # type: ignore[arg-type]
            state=state,
            view=view,
            config=CONFIG,
            explain_=True,
            cograph=cograph,
            cold=cold,
        )
        assert not result.degraded
        return [(it.item_id, it.reasons) for it in result.items]

    listed = dict(similar("i001", table))
    assert "new0" in listed and "new2" not in listed
    assert any(r.startswith(CONTENT_BASED) for r in listed["new0"])
    assert not any(r.startswith(CONTENT_BASED) for item, rs in listed.items() if item != "new0" for r in rs)
    assert "new0" not in dict(similar("i001", None))  # without the table, the version cannot list it

    of_cold = similar("new2", table)  # an item nobody touched: its neighbours by content
    assert of_cold and all(group_of(i) == 2 for i, _ in of_cold if i.startswith("i"))
    assert all(any(r.startswith(CONTENT_BASED) for r in rs) for _, rs in of_cold)
    other_version = ColdItems(version="v0", ids=table.ids, vectors=table.vectors)
    assert similar("new2", other_version) == []  # a table of another version is not read


def test_a_cold_item_can_be_recommended_and_is_explained_as_content_based(
    served: tuple[Snapshot, ModelState],
) -> None:
    snap, state = served
    cold_items = [
        CatalogueItem("new0", title=f"{GROUP_WORDS[0]} fresh", categories=("c0",)),
        CatalogueItem("new2", title=f"{GROUP_WORDS[2]} fresh", categories=("c2",)),
    ]
    view = catalogue(snap, *cold_items)
    table = build_cold_items(state, view)
    user = "u000"  # a group-0 user
    row = int(np.searchsorted(snap.user_ids, user))
    items = snap.item_ids[snap.indices[snap.indptr[row] : snap.indptr[row + 1]]].tolist()
    history = UserHistory(items, np.ones(len(items)), np.full(len(items), 1_000, np.int64))
    req = RecRequest(user, k=8, explain=True)
    result = recommend_for_user(
        req, UserInputs(history), state=state, view=view, config=CONFIG, now_ms=2_000, cold=table
    )
    listed = {it.item_id: it for it in result.items}
    assert "new0" in listed and "new2" not in listed
    assert listed["new0"].source in ("embedding", "both")
    assert any(r.startswith(CONTENT_BASED) for r in listed["new0"].reasons)
    plain = recommend_for_user(req, UserInputs(history), state=state, view=view, config=CONFIG, now_ms=2_000)
    assert "new0" not in {it.item_id for it in plain.items}
