"""Dependencies: the settings, the one store, the event pipeline, and API-key auth + rate limiting.

All are ``async def`` although none awaits anything: FastAPI runs a plain ``def`` dependency in its
thread pool, and three thread hops per request cost more than the request's own routing (measured
on the recommendations route at concurrency 32).
"""

from __future__ import annotations

import hmac
import math
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from api.ratelimit import TokenBucketLimiter
from graphrec.config import Settings
from graphrec.events.pipeline import EventPipeline
from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.port import GraphStore


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> GraphStore:
    return request.app.state.store


async def get_pipeline(request: Request) -> EventPipeline:
    return request.app.state.pipeline


async def require_store(request: Request) -> None:
    """Routes that cannot answer without the store: 503 at once while it is known to be down."""
    health = request.app.state.store_health
    if not health.up:
        raise StoreUnavailable(f"the graph store has been down for {health.down_for_s:.0f} s")


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[GraphStore, Depends(get_store)]
PipelineDep = Annotated[EventPipeline, Depends(get_pipeline)]

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="one of the keys in GRAPHREC_API_KEYS"
)


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, run uvicorn with ``--proxy-headers`` so it is the
    client's, not the proxy's)."""
    return request.client.host if request.client is not None else "unknown"


def _too_many(request: Request, reason: str, wait: float, message: str) -> HTTPException:
    request.app.state.metrics.shed.labels(reason).inc()
    retry = max(1, math.ceil(wait))
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"{message}; retry in {retry} s",
                         headers={"Retry-After": str(retry)})


def _refused(request: Request, address: str, message: str) -> HTTPException:
    """A failed key attempt: counted against the address, so guessing keys is throttled."""
    request.app.state.auth_failures.acquire(address)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "APIKey"})


async def require_api_key(
    request: Request, settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> str:
    """401 without a valid ``X-API-Key``; 429 with ``Retry-After`` when the key's bucket is empty or
    the client address made too many failed attempts (checked first, so a throttled address learns
    nothing about the keys it tries)."""
    address = client_address(request)
    failures: TokenBucketLimiter = request.app.state.auth_failures
    blocked = failures.wait(address)
    if blocked > 0:
        raise _too_many(request, "auth_failures", blocked,
                        f"too many failed API-key attempts from this address "
                        f"({settings.auth_failures_per_minute:g} per minute)")
    if not key:
        raise _refused(request, address, "missing X-API-Key header: this endpoint needs an API key")
    keys = settings.api_key_set
    if not keys:
        raise _refused(request, address, "no API keys are configured on this server (GRAPHREC_API_KEYS): "
                                         "routes that need a key are disabled")
    # Compare against every key so timing does not tell which prefix matched.
    matches = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]
    if not any(matches):
        raise _refused(request, address, "invalid API key in X-API-Key")
    limiter: TokenBucketLimiter = request.app.state.rate_limiter
    wait = limiter.acquire(key)
    if wait > 0:
        raise _too_many(request, "key_rate", wait,
                        f"rate limit exceeded for this API key ({settings.rate_limit_per_s:g} requests/s)")
    return key


ApiKeyDep = Annotated[str, Depends(require_api_key)]


async def read_access(
    request: Request, settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Read endpoints: open when no API keys are configured (local demo; limited per client
    address), else the same check as writes."""
    if settings.api_key_set:
        await require_api_key(request, settings, key)
        return
    wait = request.app.state.client_limiter.acquire(client_address(request))
    if wait > 0:
        raise _too_many(request, "client_rate", wait,
                        f"rate limit exceeded for this address ({settings.ip_rate_limit_per_s:g} requests/s)")
