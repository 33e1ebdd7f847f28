"""``make demo`` gives the catalogue what the storefront shows: a page, a picture and a price per item,
through the catalogue upsert, keeping what a catalogue already said and leaving behaviour alone."""

from __future__ import annotations

from graphrec.demo import describe_for_storefront
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.records import CatalogueItem, InteractionDelta, ItemRecord


def test_items_get_a_page_a_picture_and_a_price_once(store: FalkorDBStore) -> None:
    store.upsert_items(
        [ItemRecord(f"i{n}", f"Item {n}", ("Comedy",) if n % 2 else ("Drama", "Kids")) for n in range(5)]
        + [ItemRecord("sku 9 ü?", "Odd id", ("Drama",))]
    )
    store.replace_items(
        [
            CatalogueItem(
                "i3",
                "Item 3",
                ("Comedy",),
                url="https://shop.example/i3",
                image_url="https://cdn.example/i3.jpg",
                price=12.5,
                currency="USD",
            )
        ]
    )
    store.upsert_interactions([InteractionDelta("u1", "i0", 3.0, 1, 1_000, 1_000, {"add_to_cart": 1})])
    before = store.user_interactions(user_id="u1")

    assert describe_for_storefront(store, batch=2) == 5  # pages of 2: every page is read
    items = {it.id: it for it in store.list_items(limit=100)}
    assert items["i3"] == CatalogueItem(
        "i3",
        "Item 3",
        ("Comedy",),
        url="https://shop.example/i3",
        image_url="https://cdn.example/i3.jpg",
        price=12.5,
        currency="USD",
    )
    for item_id in ("i0", "i1", "i2", "i4", "sku 9 ü?"):
        it = items[item_id]
        assert it.url and it.url.startswith("/demo/item/") and it.image_url and it.image_url.startswith("/demo/img/")
        assert it.price is not None and 4.99 <= it.price <= 99.99 and it.currency == "EUR"
        assert it.available and not it.provisional
    assert items["sku 9 ü?"].image_url == "/demo/img/sku%209%20%C3%BC%3F"  # one path segment, whatever the id
    assert items["i2"].categories == ("Drama", "Kids") and items["i2"].title == "Item 2"
    assert store.user_interactions(user_id="u1") == before

    assert describe_for_storefront(store) == 0  # a second demo run writes nothing
    assert {it.id: it for it in store.list_items(limit=100)} == items
