"""``GET /v1/dashboard`` (secret key): everything the dashboard page plots, in one read.

Ingest rate from the event log, model versions with their offline metrics, the running experiment
with its report and CTR per arm over time, segment sizes and their top items, the shop's custom events
per name over the last week, and the feedback table (revenue per list included). The page
(``/dashboard``, :mod:`api.dashboard`) draws it; analysts may call it directly.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from api.container import Services
from api.deps import ServicesDep, require_api_key
from api.routers.feedback import experiment_report
from api.schemas.errors import SECRET_KEY_ONLY_403, error_responses
from graphrec import clock
from graphrec.clock import DAY_MS
from graphrec.data.errors import InputError
from graphrec.graph.errors import StoreUnavailable
from graphrec.offline.runs import list_runs

router = APIRouter(
    tags=["dashboard"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(401, 403, 429, 503, e403=SECRET_KEY_ONLY_403),
)

MINUTE_MS, HOUR_MS = 60_000, 3_600_000
OFFLINE_METRICS = ("test_recall@20", "test_ndcg@20", "validation_recall@20")


def _models(services: Services) -> list[dict[str, Any]]:
    state = services.models.state
    current = state.version if state is not None else None
    try:
        runs = list_runs(services.settings.models_path)
    except (FileNotFoundError, InputError):  # no models directory yet, or a damaged version in it
        runs = []
    return [
        {
            "version": r.version,
            "created_ms": r.created_ms,
            "current": r.version == current,
            **{m: r.metrics.get(m) for m in OFFLINE_METRICS},
        }
        for r in runs[-20:]
    ]


def _segments(services: Services, now: int) -> list[dict[str, Any]]:
    """Each segment's size (the store's (:Segment) nodes) and its members' most interacted items over the last
    week (the event log against the API's segment table: numpy group-bys, no graph traversal)."""
    try:
        records = services.store.segments()
    except StoreUnavailable:
        return []
    if not records:
        return []
    names = [r.name for r in records]
    code = {name: k for k, name in enumerate(names)}
    cols = services.event_log.columns(since_ms=now - 7 * DAY_MS, include_flagged=False)
    actor_segment = np.array([code.get(services.segments.segment_of(a) or "", -1) for a in cols.actors], dtype=np.int64)
    seg = actor_segment[cols.actor] if len(cols) else np.zeros(0, dtype=np.int64)
    keep = seg >= 0
    counts = np.zeros((len(names), max(len(cols.items), 1)))
    np.add.at(counts, (seg[keep], cols.item[keep]), 1.0)
    view = services.catalog.view
    out = []
    for k, record in enumerate(records):
        top = [int(i) for i in np.argsort(-counts[k], kind="stable")[:5] if counts[k, i] > 0]
        out.append(
            {
                "name": record.name,
                "size": record.size,
                "top_items": [
                    {"item_id": cols.items[i], "title": view.title(cols.items[i]), "events": int(counts[k, i])}
                    for i in top
                ],
            }
        )
    return out


def dashboard_data(services: Services) -> dict[str, Any]:
    now = clock.now_ms()
    log, feedback = services.event_log, services.feedback
    running = services.experiments.experiment if services.experiments is not None else None
    experiment = None
    if running is not None and feedback is not None:
        # about 24 points over the experiment's life so far: minutes for a new one, hours for an old one
        bucket = min(HOUR_MS, max(MINUTE_MS, (now - running.started_ms) // 24 // MINUTE_MS * MINUTE_MS))
        experiment = {
            "report": experiment_report(running, feedback).model_dump(),
            "bucket_ms": bucket,
            "ctr_over_time": feedback.ctr_series(running.id, bucket_ms=bucket),
        }
    return {
        "generated_ms": now,
        "ingest": {
            "per_minute": [
                {"t": t, "events": n} for t, n in log.rate(since_ms=now - 60 * MINUTE_MS, bucket_ms=MINUTE_MS)
            ],
            "per_hour": [{"t": t, "events": n} for t, n in log.rate(since_ms=now - 48 * HOUR_MS, bucket_ms=HOUR_MS)],
            "total": log.count(),
        },
        "models": _models(services),
        "experiment": experiment,
        "segments": _segments(services, now),
        "custom_events": [
            {"name": name, "events": n, "actors": actors}
            for name, n, actors in log.custom_counts(since_ms=now - 7 * DAY_MS)
        ],
        "feedback": [asdict(row) for row in feedback.counts()] if feedback is not None else [],
    }


@router.get("/dashboard")
async def dashboard(services: ServicesDep) -> dict[str, Any]:
    """Ingest rate, model versions with offline metrics, the experiment's online CTR per arm over time,
    segments and their top items, custom events per name (7 days), the feedback table with revenue: the
    data the /dashboard page plots."""
    return await run_in_threadpool(dashboard_data, services)
