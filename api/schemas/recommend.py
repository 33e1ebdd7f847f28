"""Response models of the recommendation, item and model endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

GRAPH_AS_OF = (
    "explain=true only: when the API's co-interaction index, which the graph side's scores (scores.graph, "
    "evidence) come from, was built (epoch ms); other users' events written later count from the next "
    "rebuild (GRAPHREC_COGRAPH_REFRESH_S), the user's own events at once. null: the graph side read the "
    "store live, or explain was not asked for. The saved queries 03-why-recommended and 11-also-liked "
    "read the live graph, so they agree with these scores once no edge is newer than this time"
)
NEXT_CURSOR = (
    "pass as cursor= (same path and parameters; k and exclude may change) for the next items of "
    "the list, none repeated; null when the list ends"
)


class ScorePartsPublic(BaseModel):
    """The blended score's parts, to reconcile the API with the saved Cypher queries."""

    embedding: float | None = Field(
        description="raw embedding score: inner product (users) or cosine (items); "
        "null when the embedding side did not propose the item"
    )
    graph: float | None = Field(
        description="raw co-interaction traversal score (03-why-recommended's `score`); "
        "null when no path within the caps reaches the item"
    )
    alpha: float = Field(description="blend weight of the embedding side (graph side: 1 - alpha)")
    neighbours: float | None = Field(
        None,
        description="raw item-neighbour score (a new user's thin history: "
        "summed co-interaction cosine of the item with the user's recent items); "
        "null when that source did not propose the item or was not used",
    )
    gamma: float = Field(0.0, description="the item neighbours' share of the graph side (0: not used)")


class RecommendedItemPublic(BaseModel):
    item_id: str
    title: str | None = None
    score: float = Field(description="blended score in [0, 1] (popular: relative to the top item)")
    source: Literal["embedding", "graph", "both", "popular", "session"] = Field(
        description=(
            "session: an anonymous visitor's likely next category (the next-category model), trending items in it"
        )
    )
    reasons: list[str] | None = Field(None, description="human-readable evidence (explain=true only)")
    scores: ScorePartsPublic | None = Field(None, description="per-source scores (explain=true only)")
    evidence: list[str] | None = Field(
        None,
        description="ids of the seen items whose co-interaction paths "
        "lead here, strongest first (explain=true, graph side)",
    )
    available: bool = Field(
        True,
        description="whether the shop sells the item now; a list never holds an unavailable item, so a page "
        "that keeps a list for later can check its items against GET /v1/items/{item_id}",
    )
    categories: list[str] = Field(default_factory=list, description="the item's categories, by name")
    url: str | None = Field(None, description="the item's page, when the catalogue gave one")
    image_url: str | None = None
    price: float | None = None
    currency: str | None = Field(None, description="ISO 4217 code of price")


class RecommendationsPublic(BaseModel):
    user_id: str
    model_version: str | None
    degraded: bool = Field(description="true when a source was unavailable (no model, or the store failed)")
    cold_start: bool = Field(description="true when the list is trending items (nothing known about the user)")
    personalised_from: Literal["model", "inductive", "graph", "none"]
    recommendation_id: str | None = Field(
        None,
        description="report which items were shown with POST "
        "/v1/impressions, and send it as context.recommendation_id on events "
        "from this list: online metrics and experiments count them",
    )
    experiment: str | None = Field(None, description="the running experiment this answer belongs to")
    arm: str | None = Field(None, description="the experiment arm the user is in (stable per user)")
    data: list[RecommendedItemPublic]
    graph_as_of_ms: int | None = Field(None, description=GRAPH_AS_OF)
    count: int
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class SimilarItemsPublic(BaseModel):
    item_id: str
    model_version: str | None
    degraded: bool
    data: list[RecommendedItemPublic]
    graph_as_of_ms: int | None = Field(None, description=GRAPH_AS_OF)
    count: int
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class PopularItemsPublic(BaseModel):
    category: str | None
    data: list[RecommendedItemPublic]
    count: int
    built_ms: int = Field(description="when the trending list was computed (epoch ms)")
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class ModelPublic(BaseModel):
    loaded: bool
    version: str | None = None
    trained_at_ms: int | None = None
    created_ms: int | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    blend: dict[str, Any] = Field(default_factory=dict)
    last_error: str | None = None


class HealthPublic(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)
