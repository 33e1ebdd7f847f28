"""The FastAPI application factory: ``uvicorn api.main:create_app --factory``.

Nothing happens at import: settings are read, the store opened and the event pipeline built in the
lifespan, and the store is closed on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from api.errors import install_error_handlers
from api.ratelimit import TokenBucketLimiter
from api.routers import events, users
from graphrec.config import Settings
from graphrec.events.pipeline import build_pipeline
from graphrec.events.policy import load_policy
from graphrec.graph.factory import connect

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` default to ``Settings()`` read when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = settings if settings is not None else Settings()
        policy = load_policy(s.events_policy_path)  # a bad policy file stops startup, with the reason
        store = await run_in_threadpool(connect, s)
        try:
            await run_in_threadpool(store.apply_schema)
            app.state.settings = s
            app.state.store = store
            app.state.pipeline = build_pipeline(store, s, policy=policy)
            app.state.rate_limiter = TokenBucketLimiter(s.rate_limit_per_s, s.rate_limit_burst)
            logger.info("graphrec API ready (store %s, policy %s)", s.graph_uri, policy.version)
            yield
        finally:
            await run_in_threadpool(store.close)

    app = FastAPI(
        title="graphrec",
        version="0.1.0",
        lifespan=lifespan,
        description="Graph-based recommendations: behaviour events in, recommendations out.",
    )
    install_error_handlers(app)
    app.include_router(events.router, prefix=API_PREFIX)
    app.include_router(users.router, prefix=API_PREFIX)
    return app
