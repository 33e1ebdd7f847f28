"""The FastAPI application factory.

``create_app(settings)`` builds the app from settings its caller read once for the process: the CLI
(``graphrec serve``), a worker process, a test. ``uvicorn api.main:create_worker_app --factory`` is
the entry point that reads them from the environment itself.

Nothing happens at import: the store is opened and the services built in the lifespan
(:func:`api.container.open_services`), and the store is closed on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Scope

from api.container import Services, built_services, install, open_services
from api.dashboard import install_dashboard
from api.deps import key_before_body
from api.docs import install_docs, install_static
from api.errors import install_error_handlers
from api.heap import settle_heap
from api.observability import Metrics, configure_json_logging, install_observability
from api.openapi import install_openapi
from api.request_guard import RequestGuard
from api.routers import (
    categories,
    dashboard,
    events,
    feedback,
    items,
    model,
    next_action,
    ops,
    profiles,
    recently_viewed,
    recommendations,
    users,
    visitors,
)
from api.shedding import Admission, ConcurrencyLimit
from api.storefront import install_storefront
from graphrec.config import Settings, publishable_origins_problem
from graphrec.events.policy import load_policy
from graphrec.serving.store_health import watch_store

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"


def create_app(settings: Settings) -> FastAPI:
    """Build the app; ``settings`` are the process's one ``Settings`` (its entry point reads them)."""
    s = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _refuse_open_production(s)
        _single_threaded_math()
        policy = load_policy(s.events_policy_path)  # a bad policy file stops startup, with the reason
        async with open_services(s, metrics, policy) as services:
            install(app, services)
            settle = bool(getattr(app.state, "settle_heap", False))  # set by the server (api.server)
            if settle:
                settle_heap(collect=True)  # the model, indexes and views just loaded: never rescanned
            # the upkeep's store calls run on these threads: cancelling a task does not stop its thread,
            # so shutdown waits for them before open_services closes the store under them
            upkeep = ThreadPoolExecutor(2, thread_name_prefix="graphrec-upkeep")
            background = asyncio.gather(
                _maintain(services, upkeep, settle=settle),
                _flush_served(services, upkeep),
                watch_store(services.store, services.health, interval_s=s.store_check_s, executor=upkeep),
            )
            model_state = services.models.state
            logger.info(
                "graphrec API ready (store %s, policy %s, model %s)",
                s.graph_uri,
                policy.version,
                model_state.version if model_state else "none",
            )
            try:
                yield
            finally:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
                await asyncio.to_thread(upkeep.shutdown, wait=True)
                if services.feedback is not None:  # what was served since the last flush
                    await asyncio.to_thread(services.feedback.flush_served)

    metrics = Metrics()
    app = FastAPI(
        title="graphrec",
        version="0.1.0",
        lifespan=lifespan,
        description="Graph-based recommendations: behaviour events in, recommendations out.",
        docs_url=None,  # install_docs serves Swagger UI from the package's own assets (works offline)
        openapi_url=None,  # and the document, both with the pages' security headers (api.page_headers)
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app, *events.BODY_MODELS)
    # the protocol of api.server sheds reads over budget before they reach the app: same counters
    app.state.admission = admission = Admission(
        read_limit=s.max_concurrency, write_limit=s.max_write_concurrency, metrics=metrics, retry_after_s=1
    )
    app.add_middleware(
        ConcurrencyLimit,
        limit=s.max_concurrency,
        metrics=metrics,
        admission=admission,
        deadline_s=s.request_deadline_s,
        on_deadline=functools.partial(_past_deadline, app),
    )
    # outside the limit: a body is read (and its key checked) before the request takes a slot
    app.add_middleware(RequestGuard, settings=s, authenticate=key_before_body)
    install_observability(app, metrics)  # outside the limit: shed requests are logged and counted too
    origins = s.cors_origin_list
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.include_router(ops.router)
    app.include_router(events.router, prefix=API_PREFIX)
    app.include_router(recommendations.router, prefix=API_PREFIX)
    app.include_router(recently_viewed.router, prefix=API_PREFIX)
    app.include_router(users.router, prefix=API_PREFIX)
    app.include_router(profiles.router, prefix=API_PREFIX)
    app.include_router(next_action.router, prefix=API_PREFIX)
    app.include_router(feedback.router, prefix=API_PREFIX)
    app.include_router(dashboard.router, prefix=API_PREFIX)
    app.include_router(visitors.router, prefix=API_PREFIX)
    app.include_router(categories.router, prefix=API_PREFIX)
    app.include_router(items.router, prefix=API_PREFIX)  # every /items route; their order is its own
    app.include_router(model.router, prefix=API_PREFIX)
    install_static(app)
    install_docs(app)
    install_storefront(app, s)
    install_dashboard(app)
    return app


def create_logged_app(settings: Settings) -> FastAPI:
    """The app as ``graphrec serve`` runs it: JSON logs at ``settings.log_level``, then :func:`create_app`."""
    configure_json_logging(getattr(logging, settings.log_level.upper()))
    return create_app(settings)


def create_worker_app() -> FastAPI:
    """``uvicorn api.main:create_worker_app --factory`` and each ``graphrec serve --workers N`` process:
    the process's settings, read here from the environment, once (a factory, so every worker
    process configures its own logging)."""
    return create_logged_app(Settings())


def _refuse_open_production(s: Settings) -> None:
    """An empty GRAPHREC_API_KEYS means "local demo" (open reads, no writes); outside local use that
    is a misconfiguration, so the API refuses to start instead of running half-open."""
    if s.environment != "local" and not s.api_key_set:
        raise RuntimeError(
            f"GRAPHREC_API_KEYS is empty but GRAPHREC_ENVIRONMENT={s.environment}: set at "
            "least one API key (an empty list is only for local demos)"
        )
    problem = publishable_origins_problem(s)  # the settings' validator, for settings that skipped it
    if problem is not None:
        raise RuntimeError(problem)


def _past_deadline(app: FastAPI, scope: Scope) -> None:
    """A request was not answered in time: almost always a store that stopped answering (it accepts
    connections, replies nothing). Count the store as down, so the requests behind it are answered at
    once instead of each waiting its own deadline; the watchdog's next probe brings it back."""
    services = built_services(app)
    if services is not None:
        services.health.failed(
            f"{scope['method']} {scope['path']} was not answered within {services.settings.request_deadline_s:g} s"
        )


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


async def _flush_served(services: Services, upkeep: Executor) -> None:
    """Write the served lists the requests queued (:meth:`FeedbackLog.queue_served`) every
    ``served_flush_s``: one transaction a tick instead of one SQLite write and thread hop a request."""
    feedback = services.feedback
    if feedback is None:
        return
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(services.settings.served_flush_s)
        try:
            await loop.run_in_executor(upkeep, feedback.flush_served)
        except Exception:  # the queue is kept for the next tick (a full disk, a locked file)
            logger.exception("writing the served lists failed; retrying at the next flush")


async def _maintain(services: Services, upkeep: Executor, *, settle: bool) -> None:
    """Background upkeep, off the request path: every due refresh (model version, trending items,
    co-interaction index) under the one policy of :mod:`graphrec.serving.refresh`, on ``upkeep``'s
    threads (which shutdown waits for)."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(services.settings.model_poll_s)
        for refresher in services.refreshers:
            if refresher.needs_store and not services.health.up:
                continue  # the store watchdog brings it back; the refresh would only fail
            if refresher.due and await loop.run_in_executor(upkeep, refresher.run):  # never raises
                if settle:
                    settle_heap()  # what the refresh built is long-lived too
