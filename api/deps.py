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
from graphrec.graph.port import GraphStore


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> GraphStore:
    return request.app.state.store


async def get_pipeline(request: Request) -> EventPipeline:
    return request.app.state.pipeline


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[GraphStore, Depends(get_store)]
PipelineDep = Annotated[EventPipeline, Depends(get_pipeline)]

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="one of the keys in GRAPHREC_API_KEYS"
)


async def require_api_key(
    request: Request, settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> str:
    """401 without a valid ``X-API-Key``; 429 with ``Retry-After`` when the key's bucket is empty."""
    challenge = {"WWW-Authenticate": "APIKey"}
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing X-API-Key header: this endpoint needs an API key",
            headers=challenge,
        )
    keys = settings.api_key_set
    if not keys:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "no API keys are configured on this server (GRAPHREC_API_KEYS); access is disabled",
            headers=challenge,
        )
    # Compare against every key so timing does not tell which prefix matched.
    matches = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]
    if not any(matches):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid API key in X-API-Key", headers=challenge)
    limiter: TokenBucketLimiter = request.app.state.rate_limiter
    wait = limiter.acquire(key)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit exceeded for this API key ({settings.rate_limit_per_s:g} requests/s); "
            f"retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )
    return key


ApiKeyDep = Annotated[str, Depends(require_api_key)]


async def read_access(
    request: Request, settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Read endpoints: open when no API keys are configured (local demo), else the same check as writes."""
    if settings.api_key_set:
        await require_api_key(request, settings, key)
