"""Bodies of the catalogue routes (``/v1/items``, ``/v1/categories``): what a storefront shows of an item.

Every text field is checked here, at the boundary, with a reason a client can act on: category names
follow the id rule's edges (no surrounding whitespace, no control characters: the embedded store's
index matches ``'a'`` against a stored ``'a '``), links are http(s) URLs or site-relative paths (a
``javascript:`` URL in a product link is how a catalogue feed turns into stored XSS), prices are
finite and not negative, currencies are ISO 4217 codes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from graphrec.graph.records import CatalogueItem
from graphrec.ids import Identifier

MAX_ITEMS_PER_UPSERT = 1_000
MAX_CATEGORIES = 32
MAX_CATEGORY_LENGTH = 256
MAX_TITLE_LENGTH = 512
MAX_LINK_LENGTH = 2_048
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_VALUE_LENGTH = 256
MAX_ATTRIBUTE_FILTERS = 8
# Attribute names are short identifiers (what a list filter names in ``attr=name:value``): a name with
# a ':' could not be filtered on, and free text invites a second catalogue in the attributes.
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def attribute_name_problem(name: str) -> str | None:
    """Why ``name`` is no attribute name (None: it is one): the one rule for bodies and filters."""
    if _ATTRIBUTE_NAME.fullmatch(name) is None:
        return "an attribute name is 1-40 characters: a lower-case letter, then letters, digits or '_'"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _no_control(value: str) -> str:
    bad = _CONTROL.search(value)
    if bad is not None:
        raise PydanticCustomError(
            "text", "must not contain control character U+{code}", {"code": f"{ord(bad.group()):04X}"}
        )
    return value


def _category(value: str) -> str:
    name = unicodedata.normalize("NFC", value)
    if not name:
        raise PydanticCustomError("category", "a category name must not be empty")
    if len(name) > MAX_CATEGORY_LENGTH:
        raise PydanticCustomError("category", "a category name has at most {n} characters", {"n": MAX_CATEGORY_LENGTH})
    if name != name.strip():
        raise PydanticCustomError("category", "a category name must not start or end with whitespace")
    return _no_control(name)


def _link(value: str) -> str:
    if any(ch.isspace() for ch in value) or _CONTROL.search(value):
        raise PydanticCustomError("link", "must not contain whitespace or control characters")
    if value.startswith("/") and not value.startswith("//"):
        return value  # site-relative
    parts = urlsplit(value)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return value
    raise PydanticCustomError("link", "must be an http(s) URL or a site-relative path starting with '/' (not '//')")


Title = Annotated[str, StringConstraints(max_length=MAX_TITLE_LENGTH), AfterValidator(_no_control)]


def _attribute_name(value: str) -> str:
    problem = attribute_name_problem(value)
    if problem is not None:
        raise PydanticCustomError("attribute", problem)
    return value


AttributeName = Annotated[str, AfterValidator(_attribute_name)]
AttributeValue = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ATTRIBUTE_VALUE_LENGTH), AfterValidator(_no_control)
]
CategoryName = Annotated[str, AfterValidator(_category)]
Link = Annotated[str, StringConstraints(max_length=MAX_LINK_LENGTH), AfterValidator(_link)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ItemBase(BaseModel):
    """An item's descriptive fields: an upsert replaces all of them (an absent field becomes null)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = Field(None, description=f"at most {MAX_TITLE_LENGTH} characters")
    categories: list[CategoryName] = Field(
        default_factory=list,
        max_length=MAX_CATEGORIES,
        description=f"at most {MAX_CATEGORIES} names of 1-{MAX_CATEGORY_LENGTH} characters; the item's whole "
        "category set (repeats count once)",
    )
    url: Link | None = Field(
        None,
        description="the item's page: an http(s) URL or a site-relative path "
        f"starting with '/', at most {MAX_LINK_LENGTH} characters",
    )
    image_url: Link | None = Field(None, description="an image of the item, same rules as url")
    price: Price | None = Field(None, description="finite, at least 0")
    currency: Currency | None = Field(None, description="ISO 4217 code, three upper-case letters (EUR, USD)")
    available: bool = Field(True, description="false: out of stock or withdrawn")
    attributes: dict[AttributeName, AttributeValue] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description=f"at most {MAX_ATTRIBUTES} facts a list can filter on with attr=name:value (brand, size, "
        f"colour...): names 1-40 characters [a-z][a-z0-9_]*, values 1-{MAX_ATTRIBUTE_VALUE_LENGTH} characters",
    )

    def record(self, item_id: str) -> CatalogueItem:
        return CatalogueItem(
            id=item_id,
            title=self.title,
            categories=tuple(sorted(set(self.categories))),
            url=self.url,
            image_url=self.image_url,
            price=self.price,
            currency=self.currency,
            available=self.available,
            attributes=tuple(sorted(self.attributes.items())),
        )


class ItemUpdate(ItemBase):
    """``PUT /v1/items/{item_id}``: the item's descriptive fields (the id is the path's)."""


class ItemCreate(ItemBase):
    """One element of ``PUT /v1/items``."""

    item_id: Identifier


class ItemsUpsert(BaseModel):
    """``PUT /v1/items``: up to 1,000 items, upserted all or nothing."""

    model_config = ConfigDict(extra="forbid")

    items: list[ItemCreate] = Field(min_length=1, max_length=MAX_ITEMS_PER_UPSERT)


class ItemPublic(BaseModel):
    item_id: str
    title: str | None
    categories: list[str]
    url: str | None
    image_url: str | None
    price: float | None
    currency: str | None
    available: bool
    provisional: bool = Field(description="true: created by an event, never described by the catalogue")
    attributes: dict[str, str] = Field(default_factory=dict, description="the catalogue's attributes")

    @classmethod
    def of(cls, item: CatalogueItem) -> ItemPublic:
        return cls(
            item_id=item.id,
            title=item.title,
            categories=list(item.categories),
            url=item.url,
            image_url=item.image_url,
            price=item.price,
            currency=item.currency,
            available=item.available,
            provisional=item.provisional,
            attributes=dict(item.attributes),
        )


class ItemsPublic(BaseModel):
    data: list[ItemPublic]
    count: int
    next_cursor: str | None = Field(description="pass as cursor= for the next page; null on the last one")


class ItemsUpserted(BaseModel):
    upserted: int


class CategoryPublic(BaseModel):
    name: str
    items: int = Field(description="how many items are in the category")


class CategoriesPublic(BaseModel):
    data: list[CategoryPublic]
    count: int
