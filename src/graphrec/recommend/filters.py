"""What a list may show: the catalogue's availability, and the caller's category, price and attribute filters.

Why one home: every list (a user's, an anonymous visitor's, an item's similar items, trending, the
session source) must leave out the same items for the same reasons, and a list that forgot one rule
would recommend an out-of-stock item or one outside the price range the page asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphrec.recommend.popular import NO_LINKS, CatalogView


@dataclass(frozen=True, slots=True)
class ListFilter:
    """A list's filters (``None``: no filter). An item with no price fails any price filter: nothing
    says it is in the range the page asked for."""

    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # (name, value): each must equal the item's

    @property
    def by_item(self) -> bool:
        """Whether the filter reads the item's price or attributes (trending lists check it per item)."""
        return self.by_price or bool(self.attributes)

    @property
    def by_price(self) -> bool:
        return self.price_min is not None or self.price_max is not None

    @property
    def narrows(self) -> bool:
        """Whether the filter leaves out more than unavailable items."""
        return self.category is not None or self.by_item

    def admits(self, view: CatalogView, item_id: str) -> bool:
        """Whether ``item_id`` may appear in the list: listable (available) and within every filter."""
        if not view.listable(item_id):
            return False
        if self.category is not None and not view.in_category(item_id, self.category):
            return False
        if self.by_price:
            price = view.links.get(item_id, NO_LINKS)[2]
            if price is None:
                return False
            if self.price_min is not None and price < self.price_min:
                return False
            if self.price_max is not None and price > self.price_max:
                return False
        if self.attributes:
            own = view.attributes.get(item_id)
            if own is None or any(own.get(name) != value for name, value in self.attributes):
                return False
        return True

    def per_item(self, view: CatalogView) -> Callable[[str], bool] | None:
        """The test a trending list applies to each item (its ``where``), or None when the list's own
        category and availability checks are all the filter asks for."""
        return (lambda item_id: self.admits(view, item_id)) if self.by_item else None

    def identity(self) -> tuple[str | None, float | None, float | None, list[list[str]]]:
        """What makes a filtered list that list (a cursor of one filter is no cursor of another)."""
        return (self.category, self.price_min, self.price_max, [list(a) for a in sorted(self.attributes)])
