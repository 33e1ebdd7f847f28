"""The store reads behind the new lists (issue 28, point 5), on both stores.

New arrivals rank items by when a catalogue first described them: the first catalogue upsert or import
stamps ``listed_ms`` and nothing later moves it. Frequently bought together reads the edges on which an
actor bought or carted an item (``iter_basket_edges``), under trending's rule against manipulation.
"""

from __future__ import annotations

from dataclasses import replace

from factories import T0, delta
from graphrec.graph.port import GraphStore
from graphrec.graph.records import CatalogueItem, InteractionPage, ItemRecord


def _listed(store: GraphStore) -> dict[str, int | None]:
    return {i: t for page in store.iter_items() for i, t in zip(page.ids, page.listed_ms, strict=True)}


def test_the_first_catalogue_description_stamps_the_listed_time_and_nothing_later_moves_it(
    any_store: GraphStore,
) -> None:
    any_store.upsert_interactions([delta("u1", "ghost", ts=T0)])  # an event creates it: not listed
    # described before first-listed times were kept (no time, not provisional): its age is unknown
    any_store.run_cypher("CREATE (:Item {id: 'old', title: 'Old'})", write=True)
    any_store.replace_items([CatalogueItem("mug", "Mug")], now_ms=T0 + 1)
    any_store.upsert_items([ItemRecord("cup", "Cup", ("Kitchen",))], now_ms=T0 + 2)  # an import's item file
    assert _listed(any_store) == {"ghost": None, "mug": T0 + 1, "cup": T0 + 2, "old": None}
    # later upserts and imports, with other fields, leave it; describing the provisional item lists it
    any_store.replace_items([CatalogueItem("mug", "Mug v2", price=3.0), CatalogueItem("ghost", "Ghost")], now_ms=T0 + 9)
    any_store.upsert_items([ItemRecord("mug", "Mug v3"), ItemRecord("cup", "Cup v2")], now_ms=T0 + 10)
    any_store.replace_items([CatalogueItem("cup", "Cup v3", available=False)], now_ms=T0 + 11)
    any_store.replace_items([CatalogueItem("old", "Old v2")], now_ms=T0 + 12)
    any_store.upsert_items([ItemRecord("old", "Old v3")], now_ms=T0 + 13)
    assert _listed(any_store) == {"ghost": T0 + 9, "mug": T0 + 1, "cup": T0 + 2, "old": None}
    (mug,) = any_store.get_items(item_ids=["mug"])
    assert mug.title == "Mug v3"  # the later writes did land


def test_basket_edges_are_purchases_and_carts_with_their_senders(any_store: GraphStore) -> None:
    any_store.upsert_items([ItemRecord("a"), ItemRecord("b")])
    bought = {"purchase": 1}
    carted = {"add_to_cart": 2, "view": 1}
    any_store.upsert_interactions(
        [
            replace(delta("u1", "a", 2.0, ts=T0, types=bought), client="c1"),
            delta("u1", "b", 1.0, ts=T0, types=carted),  # trusted sender
            delta("u2", "a", 1.0, ts=T0, types={"view": 3}),  # only viewed: not a basket edge
            delta("u3", "b", -1.0, ts=T0, types={"purchase": 1, "dislike": 1}),  # bought, then disliked
            replace(delta("u4", "made-up", 1.0, ts=T0, types=bought), client="c2"),  # a browser's provisional item
            delta("u5", "imported", 1.0, ts=T0, types=bought),  # provisional, but a trusted sender's
            delta("u6", "a", 1.0, ts=T0 - 100, types=bought),  # before the window asked for
        ]
    )
    page = InteractionPage.concat(list(any_store.iter_basket_edges(page_size=2, since_ms=T0 - 5)))
    assert page.clients is not None
    got = sorted(
        zip(page.user_ids.tolist(), page.item_ids.tolist(), page.weights.tolist(), page.clients.tolist(), strict=True)
    )
    assert got == [("u1", "a", 2.0, "c1"), ("u1", "b", 1.0, ""), ("u5", "imported", 1.0, "")]
    everything = InteractionPage.concat(list(any_store.iter_basket_edges()))
    assert sorted(everything.user_ids.tolist()) == ["u1", "u1", "u5", "u6"]
