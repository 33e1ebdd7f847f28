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
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, APIKeyQuery

from api.container import Services, services_of
from api.observability import Metrics
from graphrec.config import Settings
from graphrec.events.clients import TRUSTED, client_id
from graphrec.events.log import EventLog
from graphrec.events.pipeline import EventPipeline
from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.port import GraphStore
from graphrec.recommend.popular import CatalogCache
from graphrec.recommend.recommender import Recommender
from graphrec.serving.bought_together_holder import BoughtTogetherHolder
from graphrec.serving.cold_items_holder import ColdItemsHolder
from graphrec.serving.erasure import Eraser
from graphrec.serving.holder import ModelHolder
from graphrec.serving.next_action_holder import NextActionHolder
from graphrec.serving.segment_table import SegmentTable
from graphrec.serving.store_health import StoreHealth
from graphrec.user_tokens import InvalidUserToken, verify_user_token


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


async def get_eraser(services: ServicesDep) -> Eraser:
    return services.eraser


async def get_ingest(services: ServicesDep) -> Executor:
    return services.ingest


async def get_models(services: ServicesDep) -> ModelHolder:
    return services.models


async def get_catalog(services: ServicesDep) -> CatalogCache:
    return services.catalog


async def get_recommender(services: ServicesDep) -> Recommender:
    return services.recommender


async def get_cold_items(services: ServicesDep) -> ColdItemsHolder:
    return services.cold_items


async def get_bought_together(services: ServicesDep) -> BoughtTogetherHolder:
    return services.bought_together


async def get_segments(services: ServicesDep) -> SegmentTable:
    return services.segments


async def get_next_action(services: ServicesDep) -> NextActionHolder:
    return services.next_action


async def get_metrics(services: ServicesDep) -> Metrics:
    return services.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[GraphStore, Depends(get_store)]
HealthDep = Annotated[StoreHealth, Depends(get_health)]
PipelineDep = Annotated[EventPipeline, Depends(get_pipeline)]
EventLogDep = Annotated[EventLog, Depends(get_event_log)]
EraserDep = Annotated[Eraser, Depends(get_eraser)]
IngestDep = Annotated[Executor, Depends(get_ingest)]
ModelsDep = Annotated[ModelHolder, Depends(get_models)]
CatalogDep = Annotated[CatalogCache, Depends(get_catalog)]
ColdItemsDep = Annotated[ColdItemsHolder, Depends(get_cold_items)]
RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
BoughtTogetherDep = Annotated[BoughtTogetherHolder, Depends(get_bought_together)]
SegmentsDep = Annotated[SegmentTable, Depends(get_segments)]
NextActionDep = Annotated[NextActionHolder, Depends(get_next_action)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def require_store(health: HealthDep) -> None:
    """Routes that cannot answer without the store: 503 at once while it is known to be down."""
    if not health.up:
        raise StoreUnavailable(f"the graph store has been down for {health.down_for_s:.0f} s")


api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="a secret key (GRAPHREC_API_KEYS) or a publishable key (GRAPHREC_PUBLISHABLE_KEYS, pk_...)",
)
api_key_query = APIKeyQuery(
    name="key",
    auto_error=False,
    description="a publishable key (pk_...) in the URL, for navigator.sendBeacon, which cannot set headers",
)


class Access(StrEnum):
    """Who is calling. Secret keys are for servers and may do everything; publishable keys ship in web
    pages and may only send events, identify a visitor, opt out and read recommendations, and name a
    ``user_id`` only with that user's token (:class:`Caller`)."""

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
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, f"{message}; retry in {retry} s", headers={"Retry-After": str(retry)}
    )


def _refused(services: Services, address: str, message: str) -> HTTPException:
    """A failed key attempt: counted against the address, so guessing keys is throttled. A throttled
    address gets 429 for every failed attempt (not the 401 that would say which guesses were wrong);
    a valid key is never throttled by its address's failures, so one guesser behind a shared address
    (a NAT, an office) cannot lock out the visitors who share it."""
    blocked = services.auth_failures.wait(address)
    if blocked > 0:
        return _too_many(
            services,
            "auth_failures",
            blocked,
            f"too many failed API-key attempts from this address "
            f"({services.settings.auth_failures_per_minute:g} per minute)",
        )
    services.auth_failures.acquire(address)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "APIKey"})


_NO_KEYS = "no API keys are configured on this server (GRAPHREC_API_KEYS): routes that need a key are disabled"


def _keyless(services: Services, request: Request, *, any_configured: bool) -> HTTPException:
    """The 401 of a request without a key: none configured, or this one did not send it."""
    return _refused(
        services,
        client_address(request),
        _NO_KEYS if not any_configured else "missing X-API-Key header: this endpoint needs an API key",
    )


def _one_of(key: str, keys: frozenset[str]) -> bool:
    # Compare against every key so timing does not tell which prefix matched.
    matches = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]
    return any(matches)


async def authenticate(
    request: Request,
    services: ServicesDep,
    header: Annotated[str | None, Security(api_key_header)],
    query: Annotated[str | None, Security(api_key_query)],
) -> Access:
    """The caller's access: 401 for a wrong key, 403 for a publishable key from an origin it is not
    for, 429 with ``Retry-After`` when the key's (a publishable key: the visitor address's) bucket is
    empty, or when a failed attempt comes from an address that made too many (:func:`_refused`). No key
    at all is :attr:`Access.OPEN`; the route decides.

    Decided once per request: the answer is kept in the request's state, so a request the
    :mod:`api.request_guard` already checked is not counted against its rate limit again."""
    known: Access | None = getattr(request.state, "access", None)
    if known is not None:
        return known
    access = await _authenticate(request, services, header, query)
    request.state.access = access
    return access


async def _authenticate(request: Request, services: Services, header: str | None, query: str | None) -> Access:
    settings = services.settings
    address = client_address(request)
    key = header or query
    if not key:
        return Access.OPEN
    if header and _one_of(key, settings.api_key_set):
        wait = services.rate_limiter.acquire(key)
        if wait > 0:
            raise _too_many(
                services,
                "key_rate",
                wait,
                f"rate limit exceeded for this API key ({settings.rate_limit_per_s:g} requests/s)",
            )
        return Access.SECRET
    if _one_of(key, settings.publishable_key_set):
        origins = settings.publishable_origin_list
        origin = request.headers.get("origin")
        if origin is not None and origins and "*" not in origins and origin not in origins:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this publishable key may not be used from origin {origin!r}"
            )
        wait = services.client_limiter.acquire(f"{key}|{address}")  # per visitor address, not per key
        if wait > 0:
            raise _too_many(
                services,
                "client_rate",
                wait,
                f"rate limit exceeded for this address ({settings.ip_rate_limit_per_s:g} requests/s)",
            )
        return Access.PUBLISHABLE
    if not header and _one_of(key, settings.api_key_set):
        raise _refused(
            services,
            address,
            "secret keys go in the X-API-Key header, never in a URL (URLs are logged); rotate this key",
        )
    if not settings.api_key_set and not settings.publishable_key_set:
        raise _refused(services, address, _NO_KEYS)
    raise _refused(services, address, "invalid API key in X-API-Key")


AccessDep = Annotated[Access, Depends(authenticate)]


async def key_before_body(request: Request) -> None:
    """The request guard's check of a request that carries a body (every such route needs a key):
    :func:`authenticate`, and no key at all is refused as the routes would refuse it."""
    services = services_of(request.app)
    access = await authenticate(
        request, services, request.headers.get("x-api-key") or None, request.query_params.get("key") or None
    )
    if access is Access.OPEN:
        settings = services.settings
        raise _keyless(services, request, any_configured=bool(settings.api_key_set or settings.publishable_key_set))


async def require_api_key(request: Request, services: ServicesDep, access: AccessDep) -> Access:
    """Routes for servers only (raw history, merges, consent changes, erasure): a secret key."""
    if access is Access.SECRET:
        return access
    if access is Access.PUBLISHABLE:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a publishable key may not use this route: call it from your server with a secret key",
        )
    raise _keyless(services, request, any_configured=bool(services.settings.api_key_set))


ApiKeyDep = Annotated[Access, Depends(require_api_key)]


async def write_access(request: Request, services: ServicesDep, access: AccessDep) -> Access:
    """What a web page may write (events, identify, opt-out): a secret or a publishable key."""
    if access is not Access.OPEN:
        return access
    settings = services.settings
    raise _keyless(services, request, any_configured=bool(settings.api_key_set or settings.publishable_key_set))


WriteAccessDep = Annotated[Access, Depends(write_access)]


async def event_client(
    request: Request,
    services: ServicesDep,
    access: WriteAccessDep,
    header: Annotated[str | None, Security(api_key_header)],
    query: Annotated[str | None, Security(api_key_query)],
) -> str:
    """Who sends a batch of events, for trending's per-client cap (``graphrec.events.clients``): a
    publishable key is one browser client, its key and address hashed; a secret key is trusted, because
    a shop's backend relays many users' events from one address and each of them must count."""
    if access is Access.SECRET:
        return TRUSTED
    return client_id(
        secret=services.settings.client_key, address=client_address(request), api_key=header or query or ""
    )


EventClientDep = Annotated[str, Depends(event_client)]


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
        raise _too_many(
            services,
            "client_rate",
            wait,
            f"rate limit exceeded for this address ({settings.ip_rate_limit_per_s:g} requests/s)",
        )


user_token_header = APIKeyHeader(
    name="X-User-Token",
    scheme_name="UserToken",
    auto_error=False,
    description="with a publishable key, a user token (graphrec.user_tokens: v1.<payload>.<signature>, minted "
    "by the site's backend with GRAPHREC_USER_TOKEN_SECRET) for the one user_id the request names",
)
user_token_query = APIKeyQuery(
    name="user_token",
    scheme_name="UserTokenQuery",
    auto_error=False,
    description="the user token in the URL, for navigator.sendBeacon, which cannot set headers (short-lived)",
)
_TOKEN_HOW = (
    "a publishable key may name a user_id only with that user's token (X-User-Token header, or "
    "?user_token= for sendBeacon), minted by the site's server"
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a caller may not act for a user: 401 (no valid user token: mint one) or 403 (not this user)."""

    status: int
    reason: str

    def http(self, prefix: str = "") -> HTTPException:
        headers = {"WWW-Authenticate": "UserToken"} if self.status == status.HTTP_401_UNAUTHORIZED else None
        return HTTPException(self.status, prefix + self.reason, headers=headers)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling and which user they may act for.

    Why beside :class:`Access`: a publishable key is public, so it proves nothing about the visitor; a
    request that names a ``user_id`` with one needs a user token for exactly that user. A secret key
    (the site's server) may act for anyone; no key (local demo reads only) is left to the route."""

    access: Access
    token_user: str | None = None
    token_problem: str | None = None
    tokens_on: bool = False

    def refusal(self, user_id: str) -> Refusal | None:
        """None when the caller may act for ``user_id``; else why not."""
        if self.access is not Access.PUBLISHABLE or self.token_user == user_id:
            return None
        if not self.tokens_on:
            return Refusal(
                status.HTTP_403_FORBIDDEN,
                f"a publishable key may not name user_id '{user_id}': this server verifies no user "
                "tokens (GRAPHREC_USER_TOKEN_SECRET is unset); call from your server with a secret key",
            )
        if self.token_problem is not None:
            return Refusal(status.HTTP_401_UNAUTHORIZED, f"user token (X-User-Token) {self.token_problem}")
        if self.token_user is None:
            return Refusal(
                status.HTTP_401_UNAUTHORIZED, f"user token (X-User-Token) missing for user_id '{user_id}': {_TOKEN_HOW}"
            )
        return Refusal(
            status.HTTP_403_FORBIDDEN,
            f"user token (X-User-Token) is for another user, not user_id '{user_id}': {_TOKEN_HOW}",
        )

    def require(self, user_id: str) -> None:
        """Raise the refusal's HTTP answer unless the caller may act for ``user_id``."""
        refused = self.refusal(user_id)
        if refused is not None:
            raise refused.http()


async def get_caller(
    services: ServicesDep,
    access: AccessDep,
    header: Annotated[str | None, Security(user_token_header)],
    query: Annotated[str | None, Security(user_token_query)],
) -> Caller:
    """The caller with their user token verified (only a publishable key's token matters)."""
    secret = services.settings.user_token_secret
    token = header or query
    if access is not Access.PUBLISHABLE or secret is None or not token:
        return Caller(access, tokens_on=secret is not None)
    try:
        verified = verify_user_token(secret.get_secret_value(), token, now=int(time.time()))
    except InvalidUserToken as exc:
        return Caller(access, token_problem=exc.reason, tokens_on=True)
    return Caller(access, token_user=verified.user_id, tokens_on=True)


CallerDep = Annotated[Caller, Depends(get_caller)]


@dataclass(frozen=True, slots=True)
class Reader:
    """A read route's caller and the services it reads, resolved in one dependency (:func:`reader`)."""

    services: Services
    caller: Caller


async def reader(request: Request) -> Reader:
    """:func:`read_access` and :func:`get_caller` in one step, for the busiest read routes.

    Why one function: FastAPI solves every dependency node of a route on every request (a cache key,
    its scope, its parameters), and the recommendations routes had nine of them (services, access, two
    key schemes, read access, caller, two token schemes) for what is a few header reads: that was about
    an eighth of the route's CPU time. The same functions decide; only the solving is skipped. The
    routes declare the same security schemes in the OpenAPI document (:data:`READ_SECURITY`)."""
    services = services_of(request.app)
    headers, query = request.headers, request.query_params
    access = await authenticate(request, services, headers.get("x-api-key") or None, query.get("key") or None)
    await read_access(request, services, access)
    caller = await get_caller(services, access, headers.get("x-user-token") or None, query.get("user_token") or None)
    return Reader(services, caller)


ReaderDep = Annotated[Reader, Depends(reader)]

# The security a route using :func:`reader` documents (what Security(...) parameters would have added):
# a secret or publishable key, in the header or (publishable, for sendBeacon) the URL.
READ_SECURITY: list[dict[str, list[str]]] = [{"APIKeyHeader": []}, {"APIKeyQuery": []}]
# ... and for a route that names a user_id, that user's token with a publishable key.
USER_READ_SECURITY = [*READ_SECURITY, {"UserToken": []}, {"UserTokenQuery": []}]
