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
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, APIKeyQuery

from api.container import Services, services_of
from api.observability import Metrics
from graphrec.config import Settings
from graphrec.events.log import EventLog
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


async def get_event_log(services: ServicesDep) -> EventLog:
    return services.event_log


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
EventLogDep = Annotated[EventLog, Depends(get_event_log)]
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
    name="X-API-Key", auto_error=False,
    description="a secret key (GRAPHREC_API_KEYS) or a publishable key (GRAPHREC_PUBLISHABLE_KEYS, pk_...)",
)
api_key_query = APIKeyQuery(
    name="key", auto_error=False,
    description="a publishable key (pk_...) in the URL, for navigator.sendBeacon, which cannot set headers",
)


class Access(StrEnum):
    """Who is calling. Secret keys are for servers and may do everything; publishable keys ship in web
    pages and may only send events, identify a visitor, opt out and read recommendations."""

    SECRET = "secret"
    PUBLISHABLE = "publishable"
    OPEN = "open"  # no key: only reads, only in local demo mode (no secret key configured)


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


_NO_KEYS = "no API keys are configured on this server (GRAPHREC_API_KEYS): routes that need a key are disabled"


def _keyless(services: Services, request: Request, *, any_configured: bool) -> HTTPException:
    """The 401 of a request without a key: none configured, or this one did not send it."""
    return _refused(services, client_address(request), _NO_KEYS if not any_configured else
                    "missing X-API-Key header: this endpoint needs an API key")


def _one_of(key: str, keys: frozenset[str]) -> bool:
    # Compare against every key so timing does not tell which prefix matched.
    matches = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]
    return any(matches)


async def authenticate(
    request: Request, services: ServicesDep, header: Annotated[str | None, Security(api_key_header)],
    query: Annotated[str | None, Security(api_key_query)],
) -> Access:
    """The caller's access: 401 for a wrong key, 403 for a publishable key from an origin it is not
    for, 429 with ``Retry-After`` when the key's (a publishable key: the visitor address's) bucket is
    empty or the address made too many failed attempts (checked first, so a throttled address learns
    nothing about the keys it tries). No key at all is :attr:`Access.OPEN`; the route decides."""
    settings = services.settings
    address = client_address(request)
    blocked = services.auth_failures.wait(address)
    if blocked > 0:
        raise _too_many(services, "auth_failures", blocked,
                        f"too many failed API-key attempts from this address "
                        f"({settings.auth_failures_per_minute:g} per minute)")
    key = header or query
    if not key:
        return Access.OPEN
    if header and _one_of(key, settings.api_key_set):
        wait = services.rate_limiter.acquire(key)
        if wait > 0:
            raise _too_many(services, "key_rate", wait,
                            f"rate limit exceeded for this API key ({settings.rate_limit_per_s:g} requests/s)")
        return Access.SECRET
    if _one_of(key, settings.publishable_key_set):
        origins = settings.publishable_origin_list
        origin = request.headers.get("origin")
        if origin is not None and origins and "*" not in origins and origin not in origins:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this publishable key may not be used from origin {origin!r}")
        wait = services.client_limiter.acquire(f"{key}|{address}")  # per visitor address, not per key
        if wait > 0:
            raise _too_many(services, "client_rate", wait,
                            f"rate limit exceeded for this address ({settings.ip_rate_limit_per_s:g} requests/s)")
        return Access.PUBLISHABLE
    if not header and _one_of(key, settings.api_key_set):
        raise _refused(services, address, "secret keys go in the X-API-Key header, never in a URL (URLs are "
                                          "logged); rotate this key")
    if not settings.api_key_set and not settings.publishable_key_set:
        raise _refused(services, address, _NO_KEYS)
    raise _refused(services, address, "invalid API key in X-API-Key")


AccessDep = Annotated[Access, Depends(authenticate)]


async def require_api_key(request: Request, services: ServicesDep, access: AccessDep) -> Access:
    """Routes for servers only (raw history, merges, consent changes, erasure): a secret key."""
    if access is Access.SECRET:
        return access
    if access is Access.PUBLISHABLE:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a publishable key may not use this route: call it from "
                                                       "your server with a secret key")
    raise _keyless(services, request, any_configured=bool(services.settings.api_key_set))


ApiKeyDep = Annotated[Access, Depends(require_api_key)]


async def write_access(request: Request, services: ServicesDep, access: AccessDep) -> Access:
    """What a web page may write (events, identify, opt-out): a secret or a publishable key."""
    if access is not Access.OPEN:
        return access
    settings = services.settings
    raise _keyless(services, request, any_configured=bool(settings.api_key_set or settings.publishable_key_set))


WriteAccessDep = Annotated[Access, Depends(write_access)]


async def read_access(request: Request, services: ServicesDep, access: AccessDep) -> None:
    """Read endpoints: any key; without one, open only when no secret key is configured (local demo,
    limited per client address)."""
    settings = services.settings
    if access is not Access.OPEN:
        return
    if settings.api_key_set:
        await require_api_key(request, services, access)
        return
    wait = services.client_limiter.acquire(client_address(request))
    if wait > 0:
        raise _too_many(services, "client_rate", wait,
                        f"rate limit exceeded for this address ({settings.ip_rate_limit_per_s:g} requests/s)")
