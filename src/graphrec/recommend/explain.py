"""Human-readable reasons naming the evidence behind a recommended item."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def _name(item_id: str, title: Callable[[str], str | None]) -> str:
    t = title(item_id)
    return f"'{t}'" if t else f"item {item_id}"


def graph_reason(evidence: Sequence[str], title: Callable[[str], str | None]) -> str:
    names = ", ".join(_name(i, title) for i in evidence[:3])
    return f"users who interacted with {names} also interacted with this"


def embedding_reason(anchor: str, title: Callable[[str], str | None]) -> str:
    return f"similar to {_name(anchor, title)} you viewed"


def similar_item_reason(anchor: str, title: Callable[[str], str | None]) -> str:
    return f"similar to {_name(anchor, title)} (learned item embeddings)"


CONTENT_BASED = "content-based"
"""What every reason for an item placed by its content alone starts with (no interactions yet)."""


def content_similar_reason(anchor: str, title: Callable[[str], str | None]) -> str:
    """An item similar to ``anchor`` by title and categories: one of the two has no interactions yet, so
    the version placed it by its content (:mod:`graphrec.recommend.cold_items`)."""
    return f"{CONTENT_BASED}: similar to {_name(anchor, title)} by title and categories (no interactions yet)"


def content_reason(anchor: str | None, title: Callable[[str], str | None]) -> str:
    """A recommended item nobody has interacted with yet, proposed by its title and categories."""
    near = f", close to {_name(anchor, title)} you viewed" if anchor is not None else ""
    return f"{CONTENT_BASED}: new, no interactions yet; recommended by its title and categories{near}"


def co_item_reason(anchor: str, title: Callable[[str], str | None]) -> str:
    return f"users who interacted with {_name(anchor, title)} also interacted with this"


def popular_reason(category: str | None) -> str:
    return f"trending in '{category}' right now" if category else "trending right now"


def prior_reason() -> str:
    """An item the popularity prior of a new user's blend proposed (:func:`graphrec.scoring.blend.blend`)."""
    return "popular with many users (your history is short, so popular items weigh in)"


def bought_together_reason(anchor: str, shoppers: int, title: Callable[[str], str | None]) -> str:
    """Why a frequently-bought-together item is listed: one anchor it was bought with, and by how many."""
    return f"bought together with {_name(anchor, title)} by {shoppers} shopper{'' if shoppers == 1 else 's'}"


def recently_viewed_reason(age_ms: int) -> str:
    return f"you viewed this {ago(age_ms)}"


def new_arrival_reason(age_ms: int) -> str:
    return f"new in the catalogue: listed {ago(age_ms)}"


def ago(age_ms: int) -> str:
    """An age in words, in its largest whole unit: "just now", "5 minutes ago", "1 day ago"."""
    seconds = max(age_ms, 0) // 1000
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        n = seconds // size
        if n:
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"
