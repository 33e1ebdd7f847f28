"""``/v1/users`` bodies."""

from __future__ import annotations

from typing import TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from graphrec.ids import Identifier

AnonymousId: TypeAlias = Identifier


class InteractionPublic(BaseModel):
    item_id: str
    weight: float = Field(description="policy weight, undecayed")
    decayed_weight: float = Field(description="weight * 0.5 ** ((now - last_ts) / half_life)")
    count: int
    first_ts: int
    last_ts: int
    type_counts: dict[str, int]
    value_sums: dict[str, float]


class InteractionsPublic(BaseModel):
    data: list[InteractionPublic]
    count: int


class UserMergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    anonymous_ids: list[AnonymousId] = Field(min_length=1, max_length=100)


class UserMergePublic(BaseModel):
    user_id: str
    merged: list[str] = Field(description="anonymous ids whose history moved onto the user")
    not_found: list[str] = Field(description="anonymous ids with no history (already merged or never seen)")


class ConsentBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: bool


class ConsentUpdate(ConsentBase):
    pass


class ConsentPublic(ConsentBase):
    user_id: str
