"""Response models of the lists beside the recommendations: frequently bought together, recently viewed,
new arrivals. Each item is a :class:`RecommendedItemPublic` (same catalogue fields, ``reasons`` with
``explain=true``) with what its list is ordered by."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.recommend import NEXT_CURSOR, RecommendedItemPublic

NO_CO_PURCHASES = "no_co_purchases"


class BoughtTogetherItemPublic(RecommendedItemPublic):
    source: Literal["bought_together"] = "bought_together"  # type: ignore[assignment]
    score: float = Field(description="shoppers relative to the list's top item, in [0, 1]")
    shoppers: int = Field(
        description="distinct shoppers who bought or carted this item and the asked item (a cart: summed over "
        "its items), at most GRAPHREC_POPULAR_ACTORS_PER_CLIENT per browser client"
    )


class BoughtTogetherPublic(BaseModel):
    item_ids: list[str] = Field(description="the item, or the cart's items, the list is for")
    data: list[BoughtTogetherItemPublic]
    count: int
    built_ms: int = Field(description="when the co-purchase index was built (epoch ms; 0: not built yet)")
    reason: Literal["no_co_purchases"] | None = Field(
        None,
        description="why the list is empty: no_co_purchases when no shopper bought or carted anything together "
        "with the item(s) (or the catalogue does not know them); ask /similar for a fallback. null otherwise",
    )
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class RecentlyViewedItemPublic(RecommendedItemPublic):
    source: Literal["history"] = "history"  # type: ignore[assignment]
    score: float = Field(description="recency: 0.5 ** (age / half-life), the age counted from the newest item's")
    viewed_ms: int = Field(description="when the visitor last interacted with the item (epoch ms)")


class RecentlyViewedPublic(BaseModel):
    user_id: str = Field(description="the user's id, or the anonymous visitor's")
    data: list[RecentlyViewedItemPublic]
    count: int
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class NewItemPublic(RecommendedItemPublic):
    source: Literal["new"] = "new"  # type: ignore[assignment]
    score: float = Field(description="recency: 0.5 ** (age / half-life), the age counted from the list's newest item")
    listed_ms: int = Field(description="when a catalogue first described the item (epoch ms)")


class NewItemsPublic(BaseModel):
    category: str | None
    data: list[NewItemPublic]
    count: int
    built_ms: int = Field(description="when the catalogue view was read from the store (epoch ms)")
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)
