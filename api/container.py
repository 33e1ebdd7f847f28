"""The application's services in one typed container, built by the lifespan and kept in one place.

Why: routers used to read a dozen untyped ``app.state`` attributes directly, so nothing checked
their types and FastAPI's ``dependency_overrides`` could not replace them. Now the lifespan builds
one :class:`Services` (:func:`open_services`), :func:`install` puts it on the app, and
:func:`services_of` is the only reader; routes take typed dependencies (``api.deps``) built on it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from api.cursors import with_cursor_secret
from api.observability import Metrics
from api.ratelimit import TokenBucketLimiter
from graphrec.behaviour.triggers import parse_rules
from graphrec.config import Settings
from graphrec.events.feedback import FeedbackLog
from graphrec.events.log import EventLog
from graphrec.events.pipeline import EventPipeline, build_pipeline
from graphrec.events.policy import WeightPolicy
from graphrec.events.stream_producer import EventStreamProducer
from graphrec.events.tombstones import Tombstones
from graphrec.graph.factory import connect
from graphrec.graph.port import GraphStore, HistoryReader
from graphrec.recommend.popular import CatalogCache
from graphrec.recommend.recommender import Recommender
from graphrec.recommend.serving_config import ServingConfig
from graphrec.serving.bought_together_holder import BoughtTogetherHolder
from graphrec.serving.cograph_holder import CoGraphHolder
from graphrec.serving.cold_items_holder import ColdItemsHolder
from graphrec.serving.erasure import Eraser
from graphrec.serving.experiments import ExperimentHolder
from graphrec.serving.holder import ModelHolder
from graphrec.serving.next_action_holder import NextActionHolder
from graphrec.serving.refresh import Backoff, Refresher
from graphrec.serving.segment_table import SegmentTable
from graphrec.serving.store_health import StoreHealth
from graphrec.serving.webhooks import TriggerWorker, WebhookTarget

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Services:
    """Everything a request may use; one per app, alive from startup to shutdown."""

    settings: Settings
    metrics: Metrics
    store: GraphStore
    health: StoreHealth
    pipeline: EventPipeline
    event_log: EventLog  # every accepted event with its context (profiles; see graphrec.events.log)
    eraser: Eraser  # DELETE /v1/users/{id}: every owner of per-user data (graphrec.serving.erasure)
    rate_limiter: TokenBucketLimiter  # per API key
    client_limiter: TokenBucketLimiter  # per client address, reads open without a key
    auth_failures: TokenBucketLimiter  # failed key attempts per client address
    models: ModelHolder
    catalog: CatalogCache
    cold_items: ColdItemsHolder  # catalogue items the served version never saw, embedded from their content
    cograph: CoGraphHolder
    bought_together: BoughtTogetherHolder  # frequently bought together, rebuilt with the co-interaction index
    history: HistoryReader
    recommender: Recommender
    blocking: ThreadPoolExecutor  # requests' blocking store calls (see graphrec.recommend.recommender)
    ingest: ThreadPoolExecutor  # parses and cleans event batches (see api.routers.events)
    segments: SegmentTable  # each user's segment (graphrec segment), for profiles
    next_action: NextActionHolder  # the next-category chain, fitted from the event log
    refreshers: tuple[Refresher, ...]  # model check, trending catalogue, cold items, co-interaction index,
    # bought together, segments, next action, experiment
    triggers: TriggerWorker | None = None  # profile rules -> signed webhooks (GRAPHREC_WEBHOOK_URL)
    experiments: ExperimentHolder | None = None  # the running A/B split (store meta)
    feedback: FeedbackLog | None = None  # served lists, impressions, attributed outcomes
    stream: EventStreamProducer | None = None  # GRAPHREC_EVENT_STREAM: accepted events go to Kafka


def install(app: FastAPI, services: Services) -> None:
    """Put the container on the app (the one ``app.state`` write of the services)."""
    app.state.services = services


def built_services(app: FastAPI) -> Services | None:
    """The app's container, or None before its lifespan built it (an error handler may run then):
    with :func:`services_of`, the only reader of ``app.state``."""
    services: Services | None = getattr(app.state, "services", None)
    return services


def services_of(app: FastAPI) -> Services:
    """The app's container (dependencies, tests)."""
    services = built_services(app)
    if services is None:
        raise RuntimeError("the app's services are built by its lifespan, which has not started")
    return services


@asynccontextmanager
async def open_services(s: Settings, metrics: Metrics, policy: WeightPolicy) -> AsyncIterator[Services]:
    """Open the store, build every service, run the first refreshes; close it all on exit.

    A first refresh that fails (a store hiccup at startup) does not stop the API: it serves what it
    has and the maintenance loop retries under the refresh policy.
    """
    s = await run_in_threadpool(with_cursor_secret, s)  # the settings every route sees (SettingsDep)
    store = await run_in_threadpool(functools.partial(connect, s, serving=True))
    try:
        await run_in_threadpool(store.apply_schema)
        health = StoreHealth()
        models = ModelHolder(
            s.models_path, store=store, health=health, default_alpha=s.blend_default_alpha, backoff=_backoff(s)
        )
        catalog = CatalogCache(
            window_days=s.popular_window_days,
            half_life_days=s.half_life_days,
            actors_per_client=s.popular_actors_per_client,
        )
        cold_items = ColdItemsHolder(models, catalog)
        cograph = CoGraphHolder(fanout=s.traversal_fanout, co_items=s.cograph_co_items)
        bought_together = BoughtTogetherHolder(
            neighbours=s.bought_together_neighbours, actors_per_client=s.popular_actors_per_client
        )
        segments = SegmentTable()
        next_action = NextActionHolder(window_days=s.next_action_window_days, smoothing=s.next_action_smoothing)
        event_log = EventLog(s.event_log_file)
        experiments = ExperimentHolder(s.models_path, store=store, default_alpha=s.blend_default_alpha)
        refreshers = (  # lambdas: each run looks its method up afresh (a test can patch a class)
            Refresher(
                "model version", lambda: models.check(), every_s=s.model_poll_s, backoff=_backoff(s), needs_store=False
            ),  # falls back to the CURRENT file while the store is down
            Refresher(
                "trending catalogue", lambda: catalog.refresh(store), every_s=s.popular_ttl_s, backoff=_backoff(s)
            ),
            # after the model and the catalogue, so a swap or a refresh is followed in the same tick; a no-op
            # unless one of them changed
            Refresher(
                "cold items",
                lambda: cold_items.refresh(),
                every_s=s.model_poll_s,
                backoff=_backoff(s),
                needs_store=False,
            ),
            Refresher(
                "co-interaction index", lambda: cograph.refresh(store), every_s=s.cograph_refresh_s, backoff=_backoff(s)
            ),
            Refresher(
                "bought-together index",
                lambda: bought_together.refresh(store),
                every_s=s.cograph_refresh_s,
                backoff=_backoff(s),
            ),
            Refresher("segments", lambda: segments.refresh(store), every_s=s.segment_refresh_s, backoff=_backoff(s)),
            # after the catalogue: the chain maps items to the categories of the catalogue's current view
            Refresher(
                "next-category model",
                lambda: next_action.refresh(event_log, catalog.view.categories),
                every_s=s.next_action_refresh_s,
                backoff=_backoff(s),
                needs_store=False,
            ),
            Refresher("experiment", lambda: experiments.refresh(), every_s=s.model_poll_s, backoff=_backoff(s)),
        )
        for refresher in refreshers:
            await run_in_threadpool(refresher.run)
        history = store.history_reader(concurrency=s.max_concurrency)
        blocking = ThreadPoolExecutor(max_workers=s.blocking_threads, thread_name_prefix="graphrec-blocking")
        # One thread parses and cleans event batches; their writes are awaited on the loop, so
        # it never waits for the store and never fights other ingest threads for the GIL.
        ingest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphrec-ingest")
        triggers: TriggerWorker | None = None
        eraser: Eraser | None = None
        # stream mode: POST /v1/events produces to Kafka, `graphrec consume` writes the store
        stream = EventStreamProducer(s) if s.event_stream_location is not None else None
        try:
            await _warm_up(history)
            pipeline = build_pipeline(store, s, policy=policy, log=event_log)
            tombstones = Tombstones.beside(event_log.path, s)
            feedback = FeedbackLog(s.event_log_file, tombstones=tombstones)
            eraser = Eraser.for_log(
                store,
                event_log,
                tombstones,
                models_path=s.models_path,
                compact_timeout_s=s.erasure_compact_timeout_s,
                feedback=feedback,
                snapshots_path=s.snapshots_path,
            )
            pipeline.listeners.append(feedback.attribute_logged)
            triggers = _trigger_worker(s, event_log, catalog, tombstones)
            if triggers is not None:
                pipeline.listeners.append(triggers.mark)
                triggers.start()
            yield Services(
                settings=s,
                metrics=metrics,
                store=store,
                health=health,
                pipeline=pipeline,
                event_log=event_log,
                triggers=triggers,
                experiments=experiments,
                feedback=feedback,
                eraser=eraser,
                rate_limiter=TokenBucketLimiter(s.rate_limit_per_s, s.rate_limit_burst),
                client_limiter=TokenBucketLimiter(s.ip_rate_limit_per_s, s.ip_rate_limit_burst),
                auth_failures=TokenBucketLimiter(s.auth_failures_per_minute / 60.0, s.auth_failures_per_minute),
                models=models,
                catalog=catalog,
                cold_items=cold_items,
                cograph=cograph,
                bought_together=bought_together,
                history=history,
                recommender=Recommender(
                    config=ServingConfig.from_settings(s),
                    store=store,
                    history=history,
                    models=models,
                    catalog=catalog,
                    cograph=cograph,
                    cold_items=cold_items,
                    health=health,
                    blocking=blocking,
                    experiments=experiments,
                    feedback=feedback,
                    next_action=next_action,
                ),
                blocking=blocking,
                ingest=ingest,
                segments=segments,
                next_action=next_action,
                refreshers=refreshers,
                stream=stream,
            )
        finally:
            if stream is not None:
                await run_in_threadpool(stream.close)
            if triggers is not None:
                triggers.stop()
            # before the store closes: a round in flight ends with it
            if eraser is not None and eraser.finisher is not None:
                await run_in_threadpool(eraser.finisher.close)
            blocking.shutdown(wait=True)
            await history.aclose()
            ingest.shutdown(wait=True)
    finally:
        await run_in_threadpool(store.close)


def _trigger_worker(s: Settings, log: EventLog, catalog: CatalogCache, tombstones: Tombstones) -> TriggerWorker | None:
    """The webhook worker when a URL is configured; bad rules stop the startup with their reason."""
    if not s.triggers_on or s.webhook_secret is None:
        return None
    try:
        rules = parse_rules(s.trigger_rules)
    except ValueError as exc:
        raise ValueError(f"GRAPHREC_TRIGGER_RULES: {exc}") from None
    target = WebhookTarget(
        url=s.webhook_url,
        secret=s.webhook_secret.get_secret_value().encode(),
        max_attempts=s.webhook_max_attempts,
        retry_s=s.webhook_retry_s,
        retry_max_s=s.webhook_retry_max_s,
    )
    return TriggerWorker(
        log=log, rules=rules, target=target, categories=lambda: catalog.view.categories, tombstones=tombstones
    )


def _backoff(s: Settings) -> Backoff:
    return Backoff(first_s=s.refresh_retry_s, cap_s=s.refresh_retry_max_s)


async def _warm_up(history: HistoryReader) -> None:
    """Run the per-request reads once before serving: Neo4j plans a statement on its first run
    (hundreds of ms on a small box), which the first user's request would otherwise wait for and,
    past ``history_timeout_s``, answer degraded."""
    try:
        await history.user_history(user_id="graphrec-warm-up", limit=1)
        await history.user_item_ids(user_id="graphrec-warm-up")
    except Exception:  # the watchdog and the requests handle an unavailable store
        logger.warning("store warm-up read failed", exc_info=True)
