"""The query every ranked list takes (recommendations, recently viewed, trending, new arrivals, similar,
bought together): how many, the filters, ``exclude=`` and the cursor.

One model, so every list route takes the same parameters with the same rules and FastAPI validates them
in one pass; a list with more (a user's list adds ``exclude_seen`` and ``diversity``) extends it, and a
list whose ``explain`` says something else overrides that field's description only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.errors import error_item
from api.pages import CURSOR_DESCRIPTION, CURSOR_PATTERN, EXCLUDE_DESCRIPTION, MAX_CURSOR_LENGTH, ListPage, open_page
from api.schemas.catalogue import MAX_ATTRIBUTE_FILTERS, attribute_name_problem
from graphrec.config import Settings
from graphrec.recommend.filters import ListFilter

PRICE_MIN = "only items with a price of at least this (items without a price are left out)"
PRICE_MAX = "only items with a price of at most this (items without a price are left out)"
ATTR = (
    "only items whose catalogue attribute equals a value: name:value (the name before the first ':'), "
    f"repeatable (every one must hold), at most {MAX_ATTRIBUTE_FILTERS}"
)


def list_filter(
    category: str | None, price_min: float | None, price_max: float | None, attr: list[str] | None = None
) -> ListFilter:
    """A list's filters, or a 422: on ``price_max`` when the range is empty (it would hide the typo), on
    ``attr`` when one is not ``name:value`` with a valid attribute name."""
    if price_min is not None and price_max is not None and price_min > price_max:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [error_item(None, "price_max", f"price_max {price_max:g} is below price_min {price_min:g}")],
        )
    pairs = []
    for i, raw in enumerate(attr or ()):
        name, sep, value = raw.partition(":")
        problem = attribute_name_problem(name) if sep else "expected name:value"
        if problem is not None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(i, "attr", f"'{raw[:64]}': {problem}")]
            )
        pairs.append((name, value))
    return ListFilter(category, price_min, price_max, tuple(sorted(set(pairs))))


class ListParams(BaseModel):
    """What every ranked list takes; :meth:`filters` checks the filters the field types cannot."""

    model_config = ConfigDict(extra="ignore")  # key= and user_token= ride in the same query string

    k: int = Field(20, ge=1, le=100, description="how many items")
    category: str | None = Field(None, max_length=256, description="only items of this category")
    explain: bool = Field(False, description="reasons for each item")
    price_min: float | None = Field(None, ge=0, allow_inf_nan=False, description=PRICE_MIN)
    price_max: float | None = Field(None, ge=0, allow_inf_nan=False, description=PRICE_MAX)
    attr: list[str] | None = Field(None, max_length=MAX_ATTRIBUTE_FILTERS, description=ATTR)
    exclude: list[str] | None = Field(None, description=EXCLUDE_DESCRIPTION)
    cursor: str | None = Field(
        None, max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN, description=CURSOR_DESCRIPTION
    )

    def filters(self) -> ListFilter:
        """The list's filters (a 422 naming ``price_max`` or ``attr`` when they cannot hold)."""
        return list_filter(self.category, self.price_min, self.price_max, self.attr)

    def page(self, settings: Settings, key: str) -> ListPage:
        """The page asked for of the list ``key`` (:func:`api.pages.open_page`: 422 on a bad ``exclude`` or
        a cursor of another list)."""
        return open_page(settings, key=key, cursor=self.cursor, exclude=self.exclude, k=self.k)


ListParamsDep = Annotated[ListParams, Query()]
