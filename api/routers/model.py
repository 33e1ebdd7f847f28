"""``GET /v1/model``: the model version being served, when its data ends, and its evaluation metrics."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends

from api.deps import ModelsDep, read_access
from api.schemas.errors import error_responses
from api.schemas.recommend import ModelPublic

router = APIRouter(
    prefix="/model", tags=["model"], dependencies=[Depends(read_access)], responses=error_responses(401, 429, 503)
)


@router.get("", response_model=ModelPublic)
def read_model(holder: ModelsDep) -> ModelPublic:
    """The served model version, its training time, evaluation metrics and blend weight."""
    state = holder.state
    if state is None:
        return ModelPublic(loaded=False, last_error=holder.last_error)
    return ModelPublic(
        loaded=True,
        version=state.version,
        trained_at_ms=state.trained_at_ms,
        created_ms=state.artifact.manifest.get("created_ms"),
        metrics=state.metrics,
        blend=asdict(state.blend),
        last_error=holder.last_error,
    )
