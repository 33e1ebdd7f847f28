"""Next-category responses (definitions: :mod:`graphrec.behaviour.next_action`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CategoryProbability(BaseModel):
    category: str
    probability: float = Field(description="P(next category | the categories of the last event's item)")


class NextActionModelPublic(BaseModel):
    """The fitted chain the answer comes from."""

    fitted_ms: int = Field(description="when it was fitted (epoch ms); 0 before the first fit")
    window_days: int
    categories: int
    sessions: int
    steps: int = Field(description="item visits (consecutive events on one item are one visit)")
    transitions: float = Field(
        description="step-to-step transitions counted (items in several categories split theirs)"
    )
    smoothing: float = Field(description="pseudo-transitions toward the popularity added to every row")


class NextActionPublic(BaseModel):
    """The likely next categories after the user's last event, best first."""

    user_id: str
    last_item_id: str | None = Field(description="the item of the user's last logged event (none: no events)")
    last_event_ms: int | None
    current_categories: list[str] = Field(description="that item's categories, where the chain starts")
    basis: Literal["transitions", "popularity"] = Field(
        description="transitions: from the chain's rows for the current categories; popularity: the global "
        "category popularity (no events, an uncategorised item, or categories never left in the window)"
    )
    data: list[CategoryProbability]
    count: int
    model: NextActionModelPublic
