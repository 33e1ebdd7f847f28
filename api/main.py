"""The FastAPI application factory: ``uvicorn api.main:create_app --factory``.

Nothing happens at import: settings are read, the store opened and the event pipeline built in the
lifespan, and the store is closed on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from api.errors import install_error_handlers
from api.observability import Metrics, configure_json_logging, install_observability
from api.openapi import install_openapi
from api.ratelimit import TokenBucketLimiter
from api.routers import events, items, model, ops, recommendations, users
from api.shedding import ConcurrencyLimit
from graphrec.config import Settings
from graphrec.events.pipeline import build_pipeline
from graphrec.events.policy import load_policy
from graphrec.graph.factory import connect
from graphrec.graph.port import GraphStore, HistoryReader
from graphrec.recommend.popular import CatalogCache
from graphrec.serving.cograph_holder import CoGraphHolder
from graphrec.serving.holder import ModelHolder
from graphrec.serving.store_health import StoreHealth, watch_store

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` default to ``Settings()`` (read once, here)."""
    s = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _refuse_open_production(s)
        _single_threaded_math()
        policy = load_policy(s.events_policy_path)  # a bad policy file stops startup, with the reason
        store = await run_in_threadpool(functools.partial(connect, s, serving=True))
        try:
            await run_in_threadpool(store.apply_schema)
            app.state.settings = s
            app.state.store = store
            app.state.store_health = StoreHealth()
            app.state.pipeline = build_pipeline(store, s, policy=policy)
            app.state.rate_limiter = TokenBucketLimiter(s.rate_limit_per_s, s.rate_limit_burst)
            app.state.client_limiter = TokenBucketLimiter(s.ip_rate_limit_per_s, s.ip_rate_limit_burst)
            app.state.auth_failures = TokenBucketLimiter(s.auth_failures_per_minute / 60.0,
                                                         s.auth_failures_per_minute)
            app.state.models = ModelHolder(s.models_path, default_alpha=s.blend_default_alpha,
                                           snapshot=_snapshot_provider(store, s))
            app.state.catalog = CatalogCache(window_days=s.popular_window_days,
                                             half_life_days=s.half_life_days, ttl_s=s.popular_ttl_s)
            await run_in_threadpool(app.state.models.check)  # the CURRENT model, if one is published
            await run_in_threadpool(app.state.catalog.refresh, store)
            app.state.cograph = CoGraphHolder(refresh_s=s.cograph_refresh_s, fanout=s.traversal_fanout,
                                              co_items=s.cograph_co_items)
            try:
                await run_in_threadpool(app.state.cograph.refresh, store)
            except Exception:  # serve without the index (the store's traversal) until a rebuild works
                logger.warning("co-interaction index not built at startup; retrying in the background",
                               exc_info=True)
            app.state.history = store.history_reader(concurrency=s.max_concurrency)
            await _warm_up(app.state.history)
            app.state.blocking = ThreadPoolExecutor(max_workers=s.blocking_threads,
                                                    thread_name_prefix="graphrec-blocking")
            # One thread parses and cleans event batches; their writes are awaited on the loop, so
            # it never waits for the store and never fights other ingest threads for the GIL.
            app.state.ingest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphrec-ingest")
            background = asyncio.gather(
                _maintain(app, s),
                watch_store(store, app.state.store_health, interval_s=s.store_check_s))
            logger.info("graphrec API ready (store %s, policy %s, model %s)", s.graph_uri, policy.version,
                        app.state.models.state.version if app.state.models.state else "none")
            try:
                yield
            finally:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
                app.state.blocking.shutdown(wait=True)
                await app.state.history.aclose()
                app.state.ingest.shutdown(wait=True)
        finally:
            await run_in_threadpool(store.close)

    metrics = Metrics()
    app = FastAPI(
        title="graphrec",
        version="0.1.0",
        lifespan=lifespan,
        description="Graph-based recommendations: behaviour events in, recommendations out.",
    )
    install_error_handlers(app)
    install_openapi(app, *events.BODY_MODELS)
    app.add_middleware(ConcurrencyLimit, limit=s.max_concurrency, metrics=metrics, retry_after_s=1)
    install_observability(app, metrics)  # outside the limit: shed requests are logged and counted too
    origins = s.cors_origin_list
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["*"], expose_headers=["X-Request-ID"])
    app.include_router(ops.router)
    app.include_router(events.router, prefix=API_PREFIX)
    app.include_router(recommendations.router, prefix=API_PREFIX)
    app.include_router(users.router, prefix=API_PREFIX)
    app.include_router(items.router, prefix=API_PREFIX)
    app.include_router(model.router, prefix=API_PREFIX)
    return app


def create_worker_app() -> FastAPI:
    """The app as ``graphrec serve`` runs it: JSON logs at ``GRAPHREC_LOG_LEVEL``, settings from the
    environment. A factory, so every uvicorn worker process configures its own logging."""
    settings = Settings()
    configure_json_logging(getattr(logging, settings.log_level.upper()))
    return create_app(settings)


async def _warm_up(history: HistoryReader) -> None:
    """Run the per-request reads once before serving: Neo4j plans a statement on its first run
    (hundreds of ms on a small box), which the first user's request would otherwise wait for and,
    past ``history_timeout_s``, answer degraded."""
    try:
        await history.user_history(user_id="graphrec-warm-up", limit=1)
        await history.user_item_ids(user_id="graphrec-warm-up")
    except Exception:  # the watchdog and the requests handle an unavailable store
        logger.warning("store warm-up read failed", exc_info=True)


def _refuse_open_production(s: Settings) -> None:
    """An empty GRAPHREC_API_KEYS means "local demo" (open reads, no writes); outside local use that
    is a misconfiguration, so the API refuses to start instead of running half-open."""
    if s.environment != "local" and not s.api_key_set:
        raise RuntimeError(f"GRAPHREC_API_KEYS is empty but GRAPHREC_ENVIRONMENT={s.environment}: set at "
                           "least one API key (an empty list is only for local demos)")


def _single_threaded_math() -> None:
    """Run torch and BLAS single-threaded in the API process.

    Why: each request does microseconds of math, and requests already run in parallel in the
    threadpool; letting 32 request threads each start torch/OpenBLAS worker pools on a 2-core box
    oversubscribes it (measured: 16 rps at concurrency 32 against 235 rps at concurrency 1).
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def _snapshot_provider(store: GraphStore, s: Settings):  # type: ignore[no-untyped-def]
    """Exports a snapshot only when a new model version has no ``blend.json`` yet (to tune it)."""

    def provide():  # type: ignore[no-untyped-def]
        from graphrec.export import ExportConfig, export_snapshot

        return export_snapshot(store, ExportConfig(), half_life_days=s.half_life_days, progress=False)

    return provide


async def _maintain(app: FastAPI, s: Settings) -> None:
    """Background upkeep, off the request path: hot-swap new model versions, refresh trending items."""
    while True:
        await asyncio.sleep(s.model_poll_s)
        try:
            await run_in_threadpool(app.state.models.check)
            if not app.state.store_health.up:
                continue  # the store watchdog brings it back; refreshes would only fail
            if app.state.catalog.stale:
                await run_in_threadpool(app.state.catalog.refresh, app.state.store)
            if app.state.cograph.stale:
                await run_in_threadpool(app.state.cograph.refresh, app.state.store)
        except Exception:  # keep the loop alive whatever happens
            logger.exception("background maintenance failed")
