"""The bots a hand test found (issue 29): each is flagged, and its edges stop growing.

Played through the pipeline ``graphrec serve`` and ``graphrec ingest`` build (``build_pipeline`` with
the default Settings and policy), into the embedded FalkorDB store and the event log, as one stream
of small batches in event-time order, the way a tracker flushes them:

* ``burst`` sends 700 clicks in 56 s over 70 films, from the 30th second of a minute: 375 in one
  calendar minute and 325 in the next, each under the old per-minute limit of 600;
* ``repeater`` clicks one film 300 times, one click every 1.5 s;
* ``viewer`` views 500 films in 2 minutes (250 a minute: under the rate limit);
* ``heavy``, a person, sends 200 events over an hour across 25 films (views, scroll and dwell
  heartbeats, clicks, a few carts and purchases): never flagged;
* ``patient`` clicks one film every 2 minutes for 10 hours: under every rule, so only the edge cap
  stops it.

Each bot's batches are applied until its window crosses a limit, then dropped (the events it keeps
sending keep it flagged); the counts below are worked out from the rules in
``graphrec.events.cleaning.BotLimits`` and the cap in ``policy.toml`` (``[saturation]``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from graphrec import clock
from graphrec.config import Settings
from graphrec.events.log import BOT, COUNTED, EventLog
from graphrec.events.pipeline import EventPipeline, IngestReport, build_pipeline
from graphrec.events.policy import load_policy
from graphrec.events.schema import validate_events
from graphrec.graph.falkordb_store import FalkorDBStore

NOW = clock.now_ms()
MINUTE = 60_000
START = (NOW - 12 * 60 * MINUTE) // MINUTE * MINUTE  # a whole minute, 12 hours ago

Batch = list[dict[str, Any]]


def _batches(actor: str, events: list[tuple[int, str, str, float | None]], size: int) -> Iterator[Batch]:
    """``(ts, item, type, value)`` events of ``actor`` as API events, ``size`` to a batch."""
    raw = [
        {"event_id": f"{actor}-{k}", "user_id": actor, "item_id": item, "type": type, "timestamp": ts}
        | ({} if value is None else {"value": value})
        for k, (ts, item, type, value) in enumerate(events)
    ]
    for at in range(0, len(raw), size):
        yield raw[at : at + size]


def _burst() -> Iterator[Batch]:
    t0 = START + 30_000  # 30 s into a minute: the 56 s straddle the minute's end
    return _batches("burst", [(t0 + k * 80, f"film-{k % 70}", "click", None) for k in range(700)], 50)


def _repeater() -> Iterator[Batch]:
    return _batches("repeater", [(START + k * 1_500, "star-wars", "click", None) for k in range(300)], 10)


def _viewer() -> Iterator[Batch]:
    return _batches("viewer", [(START + k * 240, f"film-{k}", "view", None) for k in range(500)], 50)


def _heavy() -> Iterator[Batch]:
    # 40 visits 90 s apart (an hour) over 25 films, 5 events each: view, scroll, two dwell heartbeats
    # and a click, or on every eighth visit an add_to_cart / a purchase instead of the click
    events: list[tuple[int, str, str, float | None]] = []
    for visit in range(40):
        t, film = START + visit * 90_000, f"film-{(visit * 7) % 25}"
        last = ("purchase" if visit % 16 == 15 else "add_to_cart") if visit % 8 == 7 else "click"
        events += [
            (t, film, "view", None),
            (t + 5_000, film, "scroll", 0.6),
            (t + 10_000, film, "dwell", 10.0),
            (t + 20_000, film, "dwell", 10.0),
            (t + 25_000, film, last, None),
        ]
    return _batches("heavy", events, 5)  # one flush per visit


def _patient() -> Iterator[Batch]:
    return _batches("patient", [(START + k * 2 * MINUTE, "star-wars", "click", None) for k in range(300)], 5)


def _stream() -> list[Batch]:
    """Every actor's batches, in the order of their first event's time (ties: actor)."""
    batches = [b for source in (_burst, _repeater, _viewer, _heavy, _patient) for b in source()]
    return sorted(batches, key=lambda b: (b[0]["timestamp"], b[0]["user_id"]))


def _edges(store: FalkorDBStore, actor: str) -> dict[str, tuple[float, int]]:
    return {e.item_id: (e.weight, e.count) for e in store.user_interactions(user_id=actor, limit=10_000)}


@pytest.fixture
def pipeline(store: FalkorDBStore) -> EventPipeline:
    return build_pipeline(store, Settings())  # the defaults: 600 a minute, 120 views a minute, 20 repeats in 10 min


def test_the_three_bots_are_flagged_and_their_edges_stop_growing(store: FalkorDBStore, pipeline: EventPipeline) -> None:
    cap = load_policy().weight_cap
    assert cap == 20.0
    total = IngestReport()
    flagged_at: dict[str, dict[str, tuple[float, int]]] = {}  # each bot's edges once first flagged
    for raw in _stream():
        report = pipeline.ingest(validate_events(raw, now_ms=NOW, skew_ms=0))
        total.add(report)
        for actor in report.flagged_actors:
            flagged_at.setdefault(actor, _edges(store, actor))

    assert total.flagged_rules == {"burst": "rate", "repeater": "repeats", "viewer": "views"}
    assert pipeline.log is not None
    counts = _counts(pipeline.log)
    assert counts == {
        # 12 batches of 50 (600 in 48 s) applied; the 13th makes 650 within 60 s; the 14th stays flagged
        "burst": {COUNTED: 600, BOT: 100},
        # 2 batches of 10 applied (20 clicks on the film); the 3rd makes 30 within 10 min
        "repeater": {COUNTED: 20, BOT: 280},
        # 2 batches of 50 views applied; the 3rd makes 150 within 36 s
        "viewer": {COUNTED: 100, BOT: 400},
        "heavy": {COUNTED: 200},
        "patient": {COUNTED: 300},
    }
    assert (total.received, total.applied, total.flagged, total.collapsed, total.duplicates) == (
        2_000,
        1_220,
        780,
        0,
        0,
    )

    # Flagged, a bot's edges stopped growing: nothing of what it sent afterwards reached them.
    for bot in ("burst", "repeater", "viewer"):
        assert _edges(store, bot) == flagged_at[bot], bot
    assert max(w for w, _ in _edges(store, "burst").values()) == 9.0  # 9 clicks on the films most clicked
    assert len(_edges(store, "viewer")) == 100
    # The repeater's 20 clicks reached the cap; the patient's 300 clicks stay there (raw sum 300).
    assert _edges(store, "repeater") == {"star-wars": (cap, 20)}
    assert _edges(store, "patient") == {"star-wars": (cap, 300)}
    ((raw_weight,),) = store._read(  # noqa: SLF001 - the raw sum, which no port method returns
        "MATCH (:User {id: 'patient'})-[e:INTERACTED]->(:Item {id: 'star-wars'}) RETURN e.raw_weight"
    )
    assert raw_weight == 300.0
    # The person is never flagged, and no edge of anyone leaves [-cap, cap].
    heavy = _edges(store, "heavy")
    assert len(heavy) == 25 and sum(n for _, n in heavy.values()) == 200
    assert all(abs(w) <= cap for a in counts for w, _ in _edges(store, a).values())


def _counts(log: EventLog) -> dict[str, dict[int, int]]:
    """Each actor's logged events by flag (counted, bot)."""
    return {
        actor: dict(Counter(e.flag for e in log.user_events(actor)))
        for actor in ("burst", "repeater", "viewer", "heavy", "patient")
    }
