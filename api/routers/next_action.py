"""``GET /v1/users/{id}/next`` and the anonymous variant: likely next categories (secret key).

The chain is the API's in-memory model (refitted from the event log in the background); the user's last
event is one indexed read of the log; the item's categories come from the cached catalogue. The store is
not needed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.deps import CatalogDep, EventLogDep, NextActionDep, require_api_key
from api.routers.users import UserId
from api.routing import id_path
from api.schemas.errors import SECRET_KEY_ONLY_403, error_responses
from api.schemas.next_action import CategoryProbability, NextActionModelPublic, NextActionPublic
from graphrec.events.log import EventLog
from graphrec.ids import Identifier, anonymous_node_id
from graphrec.recommend.popular import CatalogCache
from graphrec.serving.next_action_holder import NextActionHolder

router = APIRouter(
    tags=["next action"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(401, 403, 422, 429, 503, e403=SECRET_KEY_ONLY_403),
)

K = Annotated[int, Query(ge=1, le=100, description="how many categories")]


def _next(
    actor: str, public_id: str, log: EventLog, catalog: CatalogCache, holder: NextActionHolder, k: int
) -> NextActionPublic:
    model = holder.model
    last = log.user_events(actor, limit=1)
    item = last[-1].item_id if last else None
    current = list(catalog.view.categories.get(item, ())) if item is not None else []
    prediction = model.predict(current, k=k)
    return NextActionPublic(
        user_id=public_id,
        last_item_id=item,
        last_event_ms=last[-1].ts if last else None,
        current_categories=current,
        basis=prediction.basis,
        data=[CategoryProbability(category=c, probability=round(p, 6)) for c, p in prediction.categories],
        count=len(prediction.categories),
        model=NextActionModelPublic(
            fitted_ms=model.fitted_ms,
            window_days=holder.window_days,
            categories=len(model.categories),
            sessions=model.sessions,
            steps=model.steps,
            transitions=round(model.transitions, 3),
            smoothing=model.smoothing,
        ),
    )


@router.get(id_path("/users/{user_id}/next"), response_model=NextActionPublic)
def user_next(
    user_id: UserId,
    log: EventLogDep,
    catalog: CatalogDep,
    holder: NextActionDep,
    k: K = 5,
) -> NextActionPublic:
    """The categories the user is likely to visit next, with probabilities (first-order chain over sessions)."""
    return _next(user_id, user_id, log, catalog, holder, k)


@router.get(id_path("/anonymous/{anonymous_id}/next"), response_model=NextActionPublic)
def anonymous_next(
    anonymous_id: Annotated[Identifier, Path()], log: EventLogDep, catalog: CatalogDep, holder: NextActionDep, k: K = 5
) -> NextActionPublic:
    """The categories an anonymous visitor is likely to visit next, with probabilities."""
    return _next(anonymous_node_id(anonymous_id), anonymous_id, log, catalog, holder, k)
