"""``POST /v1/events``: behaviour events in, acknowledged only once durably written.

Besides the behaviour types, a purchase may carry ``price``, ``currency``, ``quantity`` and ``order_id``
(kept in the event log: revenue per list in ``GET /v1/feedback``; they never change the edge), and an
event of type ``custom`` names the shop's own action (``name``, optional ``item_id`` and ``properties``):
validated, de-duplicated and logged like any event, counted in the answer's ``custom``, never an edge
(see ``graphrec.events.schema``).

The body is read by hand so that its size is checked (``Content-Length`` first, then the streamed
bytes) before any parsing. Status codes: 202 written (counts of applied and duplicate events);
400 malformed JSON; 401 missing/invalid key; 403 events of users who withdrew consent (nothing
written); 409 an ``event_id`` reused with different content, in the batch or against an event
already recorded for that actor, each with its index (nothing written; an identical retry is a
202 duplicate); 413 body or batch too large; 415 neither JSON nor text/plain JSON (``sendBeacon``);
422 every invalid event with index, field and reason (nothing written); 429 rate limited
(``Retry-After``); 503 the store is unavailable or the worker is at its concurrency limit
(``Retry-After``; nothing acknowledged, a retry is applied once). In stream mode
(``GRAPHREC_EVENT_STREAM=kafka://...``) the validated batch is produced to Kafka instead of written, and
the 202 (``queued``) comes once the broker acknowledged every event, whether the store is up or not;
``graphrec consume`` applies them (consent refusals and reused ids are then settled by the consumer: dropped,
or dead-lettered), and a broker that does not acknowledge the whole batch in time is a 503 with
``Retry-After``. A secret key or a publishable one (header, or ``?key=`` for ``sendBeacon``); with a
publishable key, events that name a ``user_id`` need that user's token (``X-User-Token``, or
``?user_token=``): 401 without a valid one, 403 with the index of each event of another user (nothing
written). Events naming items no catalogue described follow ``GRAPHREC_UNKNOWN_ITEMS``: accepted (the item is
created, provisional), also listed in ``unknown_items`` (``flag``), or the whole batch refused with a 422 per
such event (``reject``). Events sent with a publishable key are recorded with their client (key and address,
hashed), so trending counts only a few of one client's actors (see ``graphrec.recommend.popular``).
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Executor
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from api.deps import (
    Caller,
    CallerDep,
    EventClientDep,
    HealthDep,
    IngestDep,
    PipelineDep,
    ServicesDep,
    SettingsDep,
    WriteAccessDep,
    require_store,
)
from api.errors import error_item, json_limit_reason, malformed_json
from api.openapi import body_ref
from api.schemas.errors import ErrorListPublic, error_responses
from api.schemas.events import EventsAccepted, EventsCreate
from graphrec import clock
from graphrec.config import Settings
from graphrec.events.idempotency import IdempotencyConflict
from graphrec.events.pipeline import ConsentRefused, EventPipeline, UnknownItems
from graphrec.events.schema import EventIn, EventValidationError, validate_events
from graphrec.events.stream_producer import EventStreamProducer, StreamUnavailable

router = APIRouter(tags=["events"])


async def require_store_unless_streaming(health: HealthDep, services: ServicesDep) -> None:
    """The direct path writes to the store, so it answers 503 at once while the store is down; stream mode
    only produces to Kafka (the consumers wait for the store), so a store outage must not stop it from
    acknowledging: that is what the stream is for."""
    if services.stream is None:
        await require_store(health)


def _unprocessable(field: str, reason: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(None, field, reason)])


def _validate(body: bytes, settings: Settings) -> list[EventIn]:
    """Parse and validate a body (CPU work: runs on the ingest thread, off the event loop)."""
    try:
        raw: Any = json.loads(body)
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "malformed JSON: the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, malformed_json(exc.msg, exc.doc, exc.pos)) from None
    except (RecursionError, ValueError) as exc:  # nesting deeper than the parser goes; a 5,000-digit number
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {json_limit_reason(exc)}") from None
    if not isinstance(raw, dict) or "events" not in raw:
        raise _unprocessable("events", 'expected a JSON object {"events": [...]}')
    extra = sorted(set(raw) - {"events"})
    if extra:
        raise _unprocessable(extra[0], "unexpected field; the body holds only 'events'")
    items = raw["events"]
    if isinstance(items, list):
        if not items:
            raise _unprocessable("events", "the batch is empty; send at least one event")
        if len(items) > settings.events_max_batch:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"batch of {len(items)} events exceeds the limit of {settings.events_max_batch} events per request",
            )
    now_ms = clock.now_ms()
    try:
        events = validate_events(items, now_ms=now_ms, skew_ms=int(settings.events_clock_skew_s * 1000))
    except EventValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [error_item(e.index, e.field, e.reason) for e in exc.errors],
        ) from None
    return events


def check_actors(events: list[EventIn], caller: Caller) -> None:
    """Refuse the whole batch (nothing written) unless the caller may act for every user it names: with a
    publishable key, events with a ``user_id`` need that user's token. 401 (no valid token: the first
    such event's index in the text) before 403 (events of other users, each with index and field)."""
    refused = [
        (i, r) for i, e in enumerate(events) if e.user_id is not None and (r := caller.refusal(e.user_id)) is not None
    ]
    unauthorised = [(i, r) for i, r in refused if r.status == status.HTTP_401_UNAUTHORIZED]
    if unauthorised:
        i, r = unauthorised[0]
        raise r.http(prefix=f"event {i}: ")
    if refused:
        raise HTTPException(status.HTTP_403_FORBIDDEN, [error_item(i, "user_id", r.reason) for i, r in refused])


def _unknown_items_refused(events: list[EventIn], indices: list[int]) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [
            error_item(
                i,
                "item_id",
                f"unknown item '{events[i].item_id}': no catalogue describes it "
                "(this server refuses such events: PUT /v1/items first)",
            )
            for i in indices
        ],
    )


async def _produce(
    stream: EventStreamProducer, events: list[EventIn], settings: Settings, pipeline: EventPipeline, client: str
) -> EventsAccepted:
    """Stream mode: the validated batch to Kafka, answered once the broker acknowledged all of it."""
    loop = asyncio.get_running_loop()
    try:  # the unknown-items policy reads the store (none under "accept", the default)
        unknown = await loop.run_in_executor(None, pipeline.unknown_items, events, settings.unknown_items)
    except UnknownItems as exc:
        raise _unknown_items_refused(events, exc.indices) from None
    try:
        future = stream.publish(events, client=client, accepted_ms=clock.now_ms())
        await asyncio.wait_for(asyncio.wrap_future(future), timeout=stream.timeout_s + 1.0)
    except (StreamUnavailable, TimeoutError) as exc:
        reason = str(exc) or f"the broker did not acknowledge the batch in {stream.timeout_s:g} s"
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the event stream is unavailable ({reason}); nothing was acknowledged, retry the batch",
            headers={"Retry-After": str(settings.retry_after_s)},
        ) from None
    n = len(events)
    return EventsAccepted(
        received=n,
        applied=0,
        duplicates=0,
        collapsed=0,
        flagged=0,
        duplicate_ids=[],
        flagged_actors=[],
        unknown_items=unknown,
        queued=n,
    )


async def _ingest(
    executor: Executor,
    body: bytes,
    settings: Settings,
    pipeline: EventPipeline,
    caller: Caller,
    client: str,
    stream: EventStreamProducer | None = None,
) -> EventsAccepted:
    events = await asyncio.get_running_loop().run_in_executor(executor, _validate, body, settings)
    check_actors(events, caller)
    if stream is not None:
        return await _produce(stream, events, settings, pipeline, client)
    try:
        report = await pipeline.ingest_async(
            events, on_refused="reject", executor=executor, unknown_items=settings.unknown_items, client=client
        )
    except UnknownItems as exc:
        raise _unknown_items_refused(events, exc.indices) from None
    except IdempotencyConflict as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, [error_item(c.index, "event_id", c.reason) for c in exc.conflicts]
        ) from None
    except ConsentRefused as exc:
        refused = set(exc.users)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            [
                error_item(i, "user_id", f"user '{events[i].actor}' withdrew consent; their events are not recorded")
                for i in exc.indices
                if events[i].actor in refused
            ],
        ) from None
    return EventsAccepted(
        received=report.received,
        applied=report.applied,
        custom=report.custom,
        duplicates=report.duplicates,
        collapsed=report.collapsed,
        flagged=report.flagged,
        duplicate_ids=report.duplicate_ids,
        flagged_actors=report.flagged_actors,
        unknown_items=report.unknown_items,
    )


# The body is parsed by hand (size first); this documents it (api.openapi adds the models).
BODY_MODELS = (EventsCreate,)


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventsAccepted,
    response_model_exclude_none=True,  # `queued` only in stream mode
    openapi_extra=body_ref(EventsCreate),
    responses=error_responses(
        400,
        401,
        403,
        409,
        413,
        415,
        422,
        429,
        503,
        e403={
            "model": ErrorListPublic,
            "description": "events of users who withdrew consent, or (publishable "
            "key) events of users the user token is not for (nothing written)",
        },
        e409={
            "model": ErrorListPublic,
            "description": "an event_id reused with different content, in the "
            "batch or against a recorded event (nothing written)",
        },
    ),
)
async def create_events(
    request: Request,
    _access: WriteAccessDep,
    caller: CallerDep,
    settings: SettingsDep,
    pipeline: PipelineDep,
    ingest: IngestDep,
    client: EventClientDep,
    services: ServicesDep,
    _store: Annotated[None, Depends(require_store_unless_streaming)],
) -> EventsAccepted:
    """Record a batch of behaviour events, each exactly once; answered after the write is durable."""
    ctype = request.headers.get("content-type")
    media = ctype.split(";", 1)[0].strip().lower() if ctype is not None else ""
    # text/plain: what navigator.sendBeacon sends without a CORS preflight; the body is the same JSON
    if ctype is not None and not media.endswith("json") and media != "text/plain":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "send the batch as application/json (or text/plain JSON, as sendBeacon does)",
        )
    body = await request.body()  # read by api.request_guard: key checked first, size and time bounded
    return await _ingest(ingest, body, settings, pipeline, caller, client, services.stream)
