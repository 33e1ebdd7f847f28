"""``POST /v1/identify`` and ``POST /v1/consent``: what a web page's tracker may say about its visitor.

Both take a publishable key (``pk_...``, safe in a page) as well as a secret one. ``identify``
moves an anonymous visitor's history onto the user who just signed in (atomic and idempotent, like
``POST /v1/users/{id}/merge``); with a publishable key only with that user's token (else anyone could
move a visitor into an account of their choice), and never a visitor who opted out. ``consent`` with
a publishable key may only withdraw consent (an opt-out can only reduce tracking; granting consent is
the site's server's call, with a secret key), and a user's only with that user's token.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import Access, CallerDep, EventLogDep, StoreDep, WriteAccessDep, require_store
from api.schemas.errors import error_responses
from graphrec.events import identity
from graphrec.graph.records import UserRecord
from graphrec.ids import Identifier, UserIdentifier, anonymous_node_id

router = APIRouter(
    tags=["visitors"], dependencies=[Depends(require_store)], responses=error_responses(400, 401, 403, 422, 429, 503)
)


UserId = UserIdentifier


class IdentifyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    anonymous_id: Identifier = Field(description="the visitor's anonymous id (the tracker's anonymous_id)")
    user_id: UserId = Field(description="the user who signed in")


class IdentifyPublic(BaseModel):
    user_id: str
    anonymous_id: str
    merged: bool = Field(description="false when the visitor had no history left to move (already merged)")


class VisitorConsentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId | None = None
    anonymous_id: Identifier | None = None
    consent: bool

    @model_validator(mode="after")
    def _exactly_one_actor(self) -> VisitorConsentUpdate:
        if (self.user_id is None) == (self.anonymous_id is None):
            raise ValueError("give exactly one of user_id and anonymous_id")
        return self


class VisitorConsentPublic(BaseModel):
    user_id: str | None
    anonymous_id: str | None
    consent: bool


@router.post("/identify", response_model=IdentifyPublic)
def identify(
    body: IdentifyCreate, store: StoreDep, log: EventLogDep, _access: WriteAccessDep, caller: CallerDep
) -> IdentifyPublic:
    """Move an anonymous visitor's history onto the user who signed in (idempotent; needs the user's token)."""
    caller.require(body.user_id)
    try:
        outcome = identity.merge_anonymous(store, user_id=body.user_id, anonymous_ids=[body.anonymous_id], log=log)
    except (identity.ConsentWithdrawn, identity.VisitorOptedOut) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    return IdentifyPublic(user_id=body.user_id, anonymous_id=body.anonymous_id, merged=bool(outcome.merged))


@router.post("/consent", response_model=VisitorConsentPublic)
def visitor_consent(
    body: VisitorConsentUpdate, store: StoreDep, access: WriteAccessDep, caller: CallerDep
) -> VisitorConsentPublic:
    """Record a visitor's consent; a publishable key may only withdraw it (a user's: with their user token)."""
    if body.user_id is not None:
        caller.require(body.user_id)
    if body.consent and access is Access.PUBLISHABLE:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a publishable key may only withdraw consent; grant it from your server with a secret key",
        )
    node = body.user_id if body.user_id is not None else anonymous_node_id(str(body.anonymous_id))
    store.upsert_users([UserRecord(node, {"consent": body.consent})])
    return VisitorConsentPublic(user_id=body.user_id, anonymous_id=body.anonymous_id, consent=body.consent)
