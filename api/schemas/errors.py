"""Error bodies shared by every router."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorItemPublic(BaseModel):
    index: int | None = None
    field: str
    reason: str


class ErrorListPublic(BaseModel):
    detail: list[ErrorItemPublic]


class ErrorPublic(BaseModel):
    detail: str
