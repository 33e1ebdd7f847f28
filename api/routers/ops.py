"""Operations: liveness, readiness and Prometheus metrics (not versioned, no API key)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import HealthDep, MetricsDep, ModelsDep, StoreDep
from api.schemas.recommend import HealthPublic

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthPublic)
def healthz() -> HealthPublic:
    """Liveness: the process answers."""
    return HealthPublic(status="ok")


def _ping(store: object) -> bool:
    try:
        return bool(store.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


@router.get("/readyz", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
async def readyz(health: HealthDep, store: StoreDep, holder: ModelsDep) -> Response:
    """Readiness: the store answers and the model is loaded (or none is published yet).

    503 while the store is down, even with a model loaded: recommendations would still answer
    (degraded) but events and user routes cannot, so a load balancer should prefer a replica whose
    store works. Liveness (``/healthz``) stays 200: restarting the API would not bring the store back.
    """
    store_ok = health.up and await run_in_threadpool(_ping, store)
    model = holder.state.version if holder.state is not None else None
    model_ok = model is not None or holder.last_error is None
    checks = {
        "store": store_ok,
        "model": model or "none published",
        "model_error": holder.last_error,
        "store_error": health.last_error,
        "store_down_s": round(health.down_for_s, 1),
    }
    ok = store_ok and model_ok
    body = HealthPublic(status="ready" if ok else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=status.HTTP_200_OK if ok else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
