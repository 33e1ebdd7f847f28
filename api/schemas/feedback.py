"""Impressions, experiments and the feedback table (definitions: graphrec.events.feedback,
graphrec.behaviour.experiments)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphrec.ids import Identifier


class ImpressionCreate(BaseModel):
    """Which items of a recommendation list the visitor actually saw."""

    model_config = ConfigDict(extra="forbid")

    recommendation_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    user_id: Identifier | None = None
    anonymous_id: Identifier | None = None
    item_ids: list[Identifier] = Field(min_length=1, max_length=100)
    timestamp: int | None = Field(None, ge=946_684_800_000, description="epoch ms (default: now)")

    @model_validator(mode="after")
    def _one_actor(self) -> ImpressionCreate:
        if (self.user_id is None) == (self.anonymous_id is None):
            raise ValueError("give exactly one of user_id and anonymous_id")
        return self


class ImpressionsPublic(BaseModel):
    recommendation_id: str
    recorded: int = Field(description="impressions added (repeats of one item are counted once)")


class RatePublic(BaseModel):
    successes: int
    trials: int
    rate: float
    low: float = Field(description="Wilson 95% interval")
    high: float


class ArmPublic(BaseModel):
    name: str
    share: float
    version: str | None
    alpha: float | None
    strategy: str
    served: int = Field(description="recommendation lists answered")
    shown: int = Field(description="lists with at least one reported impression")
    impressions: int
    clicks: int
    purchases: int
    ctr: RatePublic = Field(description="shown lists that led to an attributed click")
    conversion: RatePublic = Field(description="shown lists that led to an attributed purchase")


class ComparisonPublic(BaseModel):
    metric: str
    p_value: float = Field(description="two-proportion z-test, two-sided")
    better: str | None = Field(description="the significantly better arm (p < 0.05), else null")


class ExperimentPublic(BaseModel):
    id: str
    started_ms: int
    arms: list[ArmPublic]
    comparisons: list[ComparisonPublic]


class ExperimentsPublic(BaseModel):
    data: list[ExperimentPublic]
    count: int


class RevenuePublic(BaseModel):
    currency: str = Field(description="ISO 4217")
    purchases: int = Field(description="attributed purchases in this currency that gave a price")
    units: int = Field(description="their quantities added up (a purchase without one counts 1)")
    amount: float = Field(description="sum of price x quantity, in currency (rounded to 6 decimals)")


class FeedbackRowPublic(BaseModel):
    model_version: str | None
    arm: str | None
    source: str | None
    segment: str | None
    impressions: int
    clicks: int
    purchases: int
    units: int = Field(description="units of the attributed purchases (a purchase without a quantity counts 1)")
    revenue: list[RevenuePublic] = Field(
        description="attributed revenue per currency, never summed across currencies; purchases without a "
        "price count in purchases and units only"
    )
    custom: dict[str, int] = Field(description="attributed custom events (those naming an item of the list) per name")


class FeedbackPublic(BaseModel):
    data: list[FeedbackRowPublic]
    count: int
