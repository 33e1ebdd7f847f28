"""``/v1/users``: a user's interactions, identity merge, consent and erasure (all need an API key).

Consent refusals answer 403 (the request is well-formed but not allowed); see docs/events.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from api.deps import EraserDep, EventLogDep, SettingsDep, StoreDep, require_api_key, require_store
from api.routing import id_path
from api.schemas.errors import SECRET_KEY_ONLY_403, error_responses
from api.schemas.users import (
    ConsentPublic,
    ConsentUpdate,
    InteractionPublic,
    InteractionsPublic,
    UserMergeCreate,
    UserMergePublic,
)
from graphrec import clock
from graphrec.clock import decayed_weight
from graphrec.events import identity
from graphrec.graph.records import UserRecord
from graphrec.ids import UserIdentifier

router = APIRouter(
    prefix="/users",
    tags=["users"],
    dependencies=[Depends(require_api_key), Depends(require_store)],
    responses=error_responses(401, 403, 422, 429, 503, e403=SECRET_KEY_ONLY_403),
)


UserId = Annotated[UserIdentifier, Path()]


@router.get(id_path("/{user_id}/interactions"), response_model=InteractionsPublic, responses=error_responses(404))
def read_interactions(
    user_id: UserId,
    store: StoreDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> InteractionsPublic:
    """The user's interactions, most recent first, with their weights (stored and decayed)."""
    edges = store.user_interactions(user_id=user_id, limit=limit)
    if not edges and not store.user_exists(user_id=user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown user '{user_id}'")
    now_ms = clock.now_ms()
    data = [
        InteractionPublic(
            item_id=e.item_id,
            weight=e.weight,
            decayed_weight=decayed_weight(e.weight, e.last_ts, now_ms=now_ms, half_life_days=settings.half_life_days),
            count=e.count,
            first_ts=e.first_ts,
            last_ts=e.last_ts,
            type_counts=dict(e.type_counts),
            value_sums=dict(e.value_sums),
        )
        for e in edges
    ]
    return InteractionsPublic(data=data, count=len(data))


@router.post(id_path("/{user_id}/merge"), response_model=UserMergePublic, responses=error_responses(400, 403))
def merge_anonymous(user_id: UserId, body: UserMergeCreate, store: StoreDep, log: EventLogDep) -> UserMergePublic:
    """Move anonymous visitors' histories onto the user (weights and aggregates add up; idempotent)."""
    try:
        outcome = identity.merge_anonymous(store, user_id=user_id, anonymous_ids=body.anonymous_ids, log=log)
    except (identity.ConsentWithdrawn, identity.VisitorOptedOut) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    return UserMergePublic(user_id=user_id, merged=outcome.merged, not_found=outcome.not_found)


@router.put(id_path("/{user_id}/consent"), response_model=ConsentPublic, responses=error_responses(400))
def update_consent(user_id: UserId, body: ConsentUpdate, store: StoreDep) -> ConsentPublic:
    """Record whether the user consents to behaviour tracking; without it their events get 403."""
    store.upsert_users([UserRecord(user_id, {"consent": body.consent})])
    return ConsentPublic(user_id=user_id, consent=body.consent)


@router.delete(id_path("/{user_id}"), status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_user(user_id: UserId, eraser: EraserDep) -> Response:
    """Erase the user and their merged visitors everywhere: store, event log, feedback, model files (idempotent)."""
    eraser.erase(user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
