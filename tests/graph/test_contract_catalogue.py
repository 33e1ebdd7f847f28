"""The catalogue part of the GraphStore contract (issue 15, point 5), on both stores.

What the catalogue API relies on: an upsert replaces an item's descriptive fields and its category
set as a whole (all or nothing), clears ``provisional`` and leaves interactions and embeddings
alone; items created by events are provisional; listings page by id, optionally in one category.
"""

from __future__ import annotations

import numpy as np
import pytest
from store_reads import stored_embedding

from factories import T0, delta
from graphrec.graph.errors import BadStoreInput
from graphrec.graph.port import EventKey, GraphStore
from graphrec.graph.records import CatalogueItem, ItemRecord

MUG = CatalogueItem(
    "mug", "Blue mug", ("Kitchen", "Gifts"), "https://shop.example/mug", "/img/mug.png", 12.5, "EUR", True
)


def test_an_upsert_round_trips_every_field(any_store: GraphStore) -> None:
    assert any_store.replace_items([MUG, CatalogueItem("pan")]) == 2
    mug, pan = any_store.get_items(item_ids=["pan", "mug", "absent"])
    assert mug == CatalogueItem(
        "mug",
        "Blue mug",
        ("Gifts", "Kitchen"),
        "https://shop.example/mug",
        "/img/mug.png",
        12.5,
        "EUR",
        True,
        provisional=False,
    )
    assert pan == CatalogueItem("pan")  # nothing described: nulls, no categories, available
    assert any_store.get_items(item_ids=[]) == []


def test_an_upsert_replaces_fields_and_categories_and_keeps_interactions(any_store: GraphStore) -> None:
    any_store.replace_items([MUG])
    any_store.upsert_interactions([delta("u1", "mug", 2.0, ts=T0)])
    any_store.write_embeddings(label="Item", ids=["mug"], vectors=np.ones((1, 4)), model_version="v1")
    any_store.replace_items([CatalogueItem("mug", "Mug", ("Gifts", "Sale"), price=0.0, available=False)])
    (mug,) = any_store.get_items(item_ids=["mug"])
    assert mug == CatalogueItem("mug", "Mug", ("Gifts", "Sale"), None, None, 0.0, None, False)
    assert [(e.item_id, e.weight) for e in any_store.user_interactions(user_id="u1")] == [("mug", 2.0)]
    assert stored_embedding(any_store, "Item", "mug") is not None
    assert any_store.category_sizes() == [("Gifts", 1), ("Sale", 1)]  # Kitchen emptied: not listed


# Properties in this order made FalkorDB 4.16 remove the wrong one when a single SET list nulled
# several of them (the second layout fails with that form of REPLACE_ITEMS).
@pytest.mark.parametrize(
    "layout",
    [
        {"price": 12.5, "available": False, "title": "x"},
        {"degree": 3, "currency": "EUR", "url": "/a", "title": "t", "image_url": "/i", "price": 1.0},
    ],
)
def test_nulled_fields_are_removed_and_no_other_property_is(any_store: GraphStore, layout: dict[str, object]) -> None:
    any_store.run_cypher("CREATE (i:Item {id: 'a'}) SET i += $p", {"p": layout}, write=True)
    any_store.replace_items([CatalogueItem("a", currency="USD")])
    props = any_store.run_cypher("MATCH (i:Item {id: 'a'}) RETURN properties(i)").rows[0][0]
    # (described before first-listed times were kept, so it gets none: its age is unknown)
    expected = {"id": "a", "currency": "USD", "available": True, **({"degree": 3} if "degree" in layout else {})}
    assert props == expected


def test_a_batch_with_a_repeated_id_is_refused_whole(any_store: GraphStore) -> None:
    with pytest.raises(BadStoreInput, match="distinct"):
        any_store.replace_items([MUG, CatalogueItem("pan"), CatalogueItem("mug", "again")])
    assert any_store.counts().items == 0


def test_items_created_by_events_are_provisional_until_described(any_store: GraphStore) -> None:
    any_store.replace_items([MUG])
    any_store.upsert_interactions([delta("u1", "ghost", ts=T0), delta("u1", "mug", ts=T0)])
    assert any_store.upsert_interactions_once(
        [delta("u2", "spirit", ts=T0)], events=[EventKey("e1", "u2")], now_ms=T0
    ).applied
    assert any_store.items_not_in_catalogue(item_ids=["mug", "ghost", "spirit", "never", "mug"]) == {
        "ghost",
        "spirit",
        "never",
    }
    assert [(i.id, i.provisional) for i in any_store.list_items()] == [
        ("ghost", True),
        ("mug", False),
        ("spirit", True),
    ]
    any_store.replace_items([CatalogueItem("ghost", "Ghost")])  # the catalogue API describes it
    any_store.upsert_items([ItemRecord("spirit", "Spirit", ("Import",))])  # so does an import's item file
    assert any_store.items_not_in_catalogue(item_ids=["ghost", "spirit", "never"]) == {"never"}
    assert not any(i.provisional for i in any_store.list_items())
    any_store.upsert_interactions([delta("u3", "ghost", ts=T0)])  # a later event leaves it described
    assert not any_store.get_items(item_ids=["ghost"])[0].provisional
    assert any_store.items_not_in_catalogue(item_ids=[]) == frozenset()


def test_listings_page_by_id_overall_and_in_a_category(any_store: GraphStore) -> None:
    any_store.replace_items(
        [CatalogueItem(f"i{k:02d}", f"T{k}", ("Even",) if k % 2 == 0 else ("Odd", "All")) for k in range(7)]
    )
    first = any_store.list_items(limit=3)
    assert [i.id for i in first] == ["i00", "i01", "i02"]
    assert first[1].categories == ("All", "Odd")
    rest = any_store.list_items(after=first[-1].id, limit=10)
    assert [i.id for i in rest] == ["i03", "i04", "i05", "i06"]
    assert any_store.list_items(after="i06") == []
    odd = any_store.list_items(category="Odd", limit=2)
    assert [i.id for i in odd] == ["i01", "i03"]
    assert [i.id for i in any_store.list_items(category="Odd", after="i03")] == ["i05"]
    assert any_store.list_items(category="Nope") == []
    assert any_store.category_sizes() == [("All", 3), ("Even", 4), ("Odd", 3)]


def test_page_items_carries_the_catalogue_links_and_availability(any_store: GraphStore) -> None:
    any_store.replace_items([MUG, CatalogueItem("pan", "Pan", available=False)])
    any_store.upsert_items([ItemRecord("cup", title="Cup")])  # never described by a catalogue: available
    (page,) = list(any_store.iter_items())
    assert page.ids == ["cup", "mug", "pan"]
    assert page.categories == [[], ["Gifts", "Kitchen"], []]
    assert page.links[1:] == [("https://shop.example/mug", "/img/mug.png", 12.5, "EUR"), (None, None, None, None)]
    assert page.available == [True, True, False]
    any_store.replace_items([CatalogueItem("pan", "Pan", available=True)])
    assert next(iter(any_store.iter_items())).available == [True, True, True]


def test_attributes_round_trip_and_an_upsert_without_them_clears_them(any_store: GraphStore) -> None:
    shirt = CatalogueItem("shirt", "Shirt", attributes=(("brand", "Acme"), ("colour", 'blue: "navy" & co')))
    any_store.replace_items([shirt, CatalogueItem("sock", "Sock")])
    got = {it.id: it for it in any_store.get_items(item_ids=["shirt", "sock"])}
    assert got["shirt"].attributes == shirt.attributes and got["sock"].attributes == ()
    (page,) = list(any_store.iter_items())
    assert page.ids == ["shirt", "sock"] and page.attributes == [shirt.attributes, ()]
    any_store.replace_items([CatalogueItem("shirt", "Shirt")])
    assert any_store.get_items(item_ids=["shirt"])[0].attributes == ()
