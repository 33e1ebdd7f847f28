"""Typed dependencies over the app's :class:`~api.container.Services`, and API-key auth + rate limiting.

Routes take these (``SettingsDep``, ``StoreDep``, ``RecommenderDep``, ...) instead of reading the
app's state, so types are checked and a test can replace any of them with
``app.dependency_overrides[get_x]``. Only :func:`get_services` reaches the container.

All are ``async def`` although none awaits anything: FastAPI runs a plain ``def`` dependency in its
thread pool, and three thread hops per request cost more than the request's own routing (measured
on the recommendations route at concurrency 32). Each is one attribute read: FastAPI caches
:func:`get_services` per request, so several of them cost one container lookup.
"""

from __future__ import annotations

import hmac
import math
from concurrent.futures import Executor
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from api.container import Services, services_of
from api.observability import Metrics
from graphrec.config import Settings
from graphrec.events.pipeline import EventPipeline
from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.port import GraphStore
from graphrec.recommend.popular import CatalogCache
from graphrec.recommend.recommender import Recommender
from graphrec.serving.holder import ModelHolder
from graphrec.serving.store_health import StoreHealth


async def get_services(request: Request) -> Services:
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_store(services: ServicesDep) -> GraphStore:
    return services.store


async def get_health(services: ServicesDep) -> StoreHealth:
    return services.health


async def get_pipeline(services: ServicesDep) -> EventPipeline:
    return services.pipeline


async def get_ingest(services: ServicesDep) -> Executor:
    return services.ingest


async def get_models(services: ServicesDep) -> ModelHolder:
    return services.models


async def get_catalog(services: ServicesDep) -> CatalogCache:
    return services.catalog


async def get_recommender(services: ServicesDep) -> Recommender:
    return services.recommender


async def get_metrics(services: ServicesDep) -> Metrics:
    return services.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[GraphStore, Depends(get_store)]
HealthDep = Annotated[StoreHealth, Depends(get_health)]
PipelineDep = Annotated[EventPipeline, Depends(get_pipeline)]
IngestDep = Annotated[Executor, Depends(get_ingest)]
ModelsDep = Annotated[ModelHolder, Depends(get_models)]
CatalogDep = Annotated[CatalogCache, Depends(get_catalog)]
RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def require_store(health: HealthDep) -> None:
    """Routes that cannot answer without the store: 503 at once while it is known to be down."""
    if not health.up:
        raise StoreUnavailable(f"the graph store has been down for {health.down_for_s:.0f} s")


api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="one of the keys in GRAPHREC_API_KEYS"
)


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, run uvicorn with ``--proxy-headers`` so it is the
    client's, not the proxy's)."""
    return request.client.host if request.client is not None else "unknown"


def _too_many(services: Services, reason: str, wait: float, message: str) -> HTTPException:
    services.metrics.shed.labels(reason).inc()
    retry = max(1, math.ceil(wait))
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"{message}; retry in {retry} s",
                         headers={"Retry-After": str(retry)})


def _refused(services: Services, address: str, message: str) -> HTTPException:
    """A failed key attempt: counted against the address, so guessing keys is throttled."""
    services.auth_failures.acquire(address)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "APIKey"})


async def require_api_key(
    request: Request, services: ServicesDep, key: Annotated[str | None, Security(api_key_header)]
) -> str:
    """401 without a valid ``X-API-Key``; 429 with ``Retry-After`` when the key's bucket is empty or
    the client address made too many failed attempts (checked first, so a throttled address learns
    nothing about the keys it tries)."""
    settings = services.settings
    address = client_address(request)
    blocked = services.auth_failures.wait(address)
    if blocked > 0:
        raise _too_many(services, "auth_failures", blocked,
                        f"too many failed API-key attempts from this address "
                        f"({settings.auth_failures_per_minute:g} per minute)")
    if not key:
        raise _refused(services, address, "missing X-API-Key header: this endpoint needs an API key")
    keys = settings.api_key_set
    if not keys:
        raise _refused(services, address, "no API keys are configured on this server (GRAPHREC_API_KEYS): "
                                          "routes that need a key are disabled")
    # Compare against every key so timing does not tell which prefix matched.
    matches = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]
    if not any(matches):
        raise _refused(services, address, "invalid API key in X-API-Key")
    wait = services.rate_limiter.acquire(key)
    if wait > 0:
        raise _too_many(services, "key_rate", wait,
                        f"rate limit exceeded for this API key ({settings.rate_limit_per_s:g} requests/s)")
    return key


ApiKeyDep = Annotated[str, Depends(require_api_key)]


async def read_access(
    request: Request, services: ServicesDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Read endpoints: open when no API keys are configured (local demo; limited per client
    address), else the same check as writes."""
    settings = services.settings
    if settings.api_key_set:
        await require_api_key(request, services, key)
        return
    wait = services.client_limiter.acquire(client_address(request))
    if wait > 0:
        raise _too_many(services, "client_rate", wait,
                        f"rate limit exceeded for this address ({settings.ip_rate_limit_per_s:g} requests/s)")
