"""Behaviour profiles: what a user's event log says about how they browse, computed for one user or all at once.

Why one vectorised function for both: the profile endpoint (one user, on every call, so a new event
shows at once) and ``graphrec segment`` (every user, to cluster) must mean the same thing by
"engagement" or "session length". Everything is computed from the event log (see
:mod:`graphrec.events.log`) relative to ``now_ms``, with numpy group-bys over actor codes.

Definitions (``window`` = the last ``window_days`` days, 30 by default; half-life 7 days):

- **recency**: days since the last event; ``recency_score = 2 ** (-days / half_life)`` (1 = just now).
- **frequency**: events in the window per active day; ``active_days``: distinct UTC days with events.
- **sessions**: a new session starts when the session id changes or after 30 minutes without events;
  ``session_events`` / ``session_seconds``: mean events and mean duration (first to last event) per session.
- **active/passive**: active events are deliberate acts (click, add_to_cart, purchase, rating, like,
  share, dislike); passive ones are exposure (view, hover, scroll, dwell, video_play).
  ``active_ratio`` = active / all.
- **engagement**: ``sum 2 ** (-age / half_life) * (1 if active else 0.25)``, and a level: ``low`` below
  2, ``high`` from 10, ``medium`` between.
- **conversion**: ``cart_per_session``, ``purchase_per_session``.
- **preferred categories**: the item categories with the largest decayed event count (top 3, shares).
- **device mix**: share of events per device (context.device); **bot share**: events the pipeline's bot
  guard flagged.
- **purchase intent** (0..1): from the last 24 hours, ``1 - exp(-(open_carts + 0.3 clicks + 0.05 passive))``
  where ``open_carts = max(add_to_cart - purchase, 0)``: carts not yet bought weigh most, a purchase
  closes them (the signal triggers and webhooks watch, see :mod:`graphrec.behaviour.triggers`).
- **trend**: per event type, events in the last 7 days against the 7 before, and their change ratio
  ``(last - previous) / max(previous, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrec.clock import DAY_MS
from graphrec.event_types import EVENT_TYPES, EventType
from graphrec.events.log import BOT, EventColumns

SESSION_GAP_MS = 30 * 60_000
ACTIVE_TYPES = frozenset(
    {
        EventType.CLICK,
        EventType.ADD_TO_CART,
        EventType.PURCHASE,
        EventType.RATING,
        EventType.LIKE,
        EventType.SHARE,
        EventType.DISLIKE,
    }
)
_ACTIVE = np.array([t in ACTIVE_TYPES for t in EVENT_TYPES])
_T = {t: i for i, t in enumerate(EVENT_TYPES)}
ENGAGEMENT_LEVELS = ((2.0, "low"), (10.0, "medium"))  # below 2: low, below 10: medium, else high

# the numeric features segmentation clusters on, in this order (see ``ProfileTable.matrix``)
FEATURES = (
    "log_events",
    "active_days",
    "recency_score",
    "log_sessions",
    "session_events",
    "log_session_seconds",
    "active_ratio",
    "cart_per_session",
    "purchase_per_session",
    "view_share",
    "scroll_share",
    "mean_dwell_s",
    "mean_scroll_depth",
    "events_per_minute",
    "bot_share",
)


@dataclass(frozen=True, slots=True)
class Profile:
    """One user's profile (see the module docstring for every definition)."""

    user_id: str
    events: int
    window_days: int
    first_ms: int | None
    last_ms: int | None
    recency_days: float | None
    recency_score: float
    active_days: int
    frequency_per_active_day: float
    sessions: int
    session_events: float
    session_seconds: float
    active_ratio: float
    engagement: float
    engagement_level: str
    cart_per_session: float
    purchase_per_session: float
    mean_dwell_s: float
    mean_scroll_depth: float
    bot_share: float
    purchase_intent: float = 0.0
    preferred_categories: list[tuple[str, float]] = field(default_factory=list)
    device_mix: dict[str, float] = field(default_factory=dict)
    trend: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProfileTable:
    """Every actor's numeric features (rows follow ``actors``), for clustering."""

    actors: list[str]
    values: dict[str, np.ndarray]

    def matrix(self, features: Sequence[str] = FEATURES) -> np.ndarray:
        """``(n_actors, len(features))`` float64."""
        return np.column_stack([self.values[f] for f in features]) if self.actors else np.zeros((0, len(features)))


def _level(engagement: float) -> str:
    for bound, name in ENGAGEMENT_LEVELS:
        if engagement < bound:
            return name
    return "high"


def session_starts(cols: EventColumns) -> np.ndarray:
    """True where an event starts a session (rows ordered by actor, then time)."""
    n = len(cols)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        same_actor = cols.actor[1:] == cols.actor[:-1]
        same_session = cols.session[1:] == cols.session[:-1]
        close = (cols.ts[1:] - cols.ts[:-1]) <= SESSION_GAP_MS
        starts[1:] = ~(same_actor & same_session & close)
    return starts


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    quotient: np.ndarray = np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)
    return quotient


def _intent(cols: EventColumns, per_actor: Callable[[np.ndarray], np.ndarray], now_ms: int) -> np.ndarray:
    recent = (cols.ts >= now_ms - DAY_MS).astype(np.float64)
    carts = per_actor(recent * (cols.type == _T["add_to_cart"]))
    bought = per_actor(recent * (cols.type == _T["purchase"]))
    clicks = per_actor(recent * (cols.type == _T["click"]))
    passive = per_actor(recent * ~_ACTIVE[cols.type])
    intent: np.ndarray = 1.0 - np.exp(-(np.maximum(carts - bought, 0.0) + 0.3 * clicks + 0.05 * passive))
    return intent


def profile_table(cols: EventColumns, *, now_ms: int, half_life_days: float = 7.0) -> ProfileTable:
    """Numeric features of every actor in ``cols`` (the caller picks the window when reading the log)."""
    n_actors = len(cols.actors)
    if n_actors == 0:
        return ProfileTable([], {f: np.zeros(0) for f in FEATURES})
    a = cols.actor

    def per_actor(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(a, weights=weights, minlength=n_actors).astype(np.float64)

    events = per_actor()
    last = np.full(n_actors, np.iinfo(np.int64).min)
    np.maximum.at(last, a, cols.ts)
    recency_days = np.maximum(now_ms - last, 0) / DAY_MS
    day = cols.ts // DAY_MS
    active_days = per_actor(np.r_[True, (a[1:] != a[:-1]) | (day[1:] != day[:-1])].astype(np.float64))
    starts = session_starts(cols)
    session_id = np.cumsum(starts) - 1
    n_sessions_total = int(session_id[-1]) + 1
    s_first = np.full(n_sessions_total, np.iinfo(np.int64).max)
    s_last = np.full(n_sessions_total, np.iinfo(np.int64).min)
    np.minimum.at(s_first, session_id, cols.ts)
    np.maximum.at(s_last, session_id, cols.ts)
    s_actor = a[starts]
    sessions = np.bincount(s_actor, minlength=n_actors).astype(np.float64)
    session_seconds = _safe_div(np.bincount(s_actor, weights=(s_last - s_first) / 1000.0, minlength=n_actors), sessions)
    is_type = {t: (cols.type == i).astype(np.float64) for t, i in _T.items()}
    active = _ACTIVE[cols.type].astype(np.float64)
    dwell = np.where(cols.type == _T["dwell"], np.nan_to_num(cols.value), 0.0)
    scroll = np.where(cols.type == _T["scroll"], np.nan_to_num(cols.value), 0.0)
    n_dwell, n_scroll = per_actor(is_type["dwell"]), per_actor(is_type["scroll"])
    span_min = np.maximum(np.bincount(s_actor, weights=(s_last - s_first) / 60_000.0, minlength=n_actors), 1.0)
    values = {
        "events": events,
        "log_events": np.log1p(events),
        "active_days": active_days,
        "recency_days": recency_days,
        "recency_score": np.exp2(-recency_days / half_life_days),
        "sessions": sessions,
        "log_sessions": np.log1p(sessions),
        "session_events": _safe_div(events, sessions),
        "session_seconds": session_seconds,
        "log_session_seconds": np.log1p(session_seconds),
        "active_ratio": _safe_div(per_actor(active), events),
        "engagement": per_actor(
            np.exp2(-np.maximum(now_ms - cols.ts, 0) / DAY_MS / half_life_days) * np.where(active > 0, 1.0, 0.25)
        ),
        "cart_per_session": _safe_div(per_actor(is_type["add_to_cart"]), sessions),
        "purchase_per_session": _safe_div(per_actor(is_type["purchase"]), sessions),
        "view_share": _safe_div(per_actor(is_type["view"]), events),
        "scroll_share": _safe_div(per_actor(is_type["scroll"]), events),
        "dwell_events": n_dwell,
        "mean_dwell_s": _safe_div(per_actor(dwell), n_dwell),
        "mean_scroll_depth": _safe_div(per_actor(scroll), n_scroll),
        "events_per_minute": events / span_min,
        "bot_share": _safe_div(per_actor((cols.flag == BOT).astype(np.float64)), events),
        "purchase_intent": _intent(cols, per_actor, now_ms),
        "last_ms": last.astype(np.float64),
    }
    first = np.full(n_actors, np.iinfo(np.int64).max)
    np.minimum.at(first, a, cols.ts)
    values["first_ms"] = first.astype(np.float64)
    return ProfileTable(list(cols.actors), values)


def build_profile(
    user_id: str,
    cols: EventColumns,
    *,
    now_ms: int,
    window_days: int = 30,
    item_categories: Mapping[str, Sequence[str]] | None = None,
    half_life_days: float = 7.0,
    top_categories: int = 3,
) -> Profile:
    """The profile of ``user_id`` from their rows in ``cols`` (read with ``since = now - window``)."""
    if user_id not in cols.actors or len(cols) == 0:
        return Profile(
            user_id=user_id,
            events=0,
            window_days=window_days,
            first_ms=None,
            last_ms=None,
            recency_days=None,
            recency_score=0.0,
            active_days=0,
            frequency_per_active_day=0.0,
            sessions=0,
            session_events=0.0,
            session_seconds=0.0,
            active_ratio=0.0,
            engagement=0.0,
            engagement_level="low",
            cart_per_session=0.0,
            purchase_per_session=0.0,
            mean_dwell_s=0.0,
            mean_scroll_depth=0.0,
            bot_share=0.0,
        )
    code = cols.actors.index(user_id)
    table = profile_table(cols, now_ms=now_ms, half_life_days=half_life_days)
    v = {k: float(arr[code]) for k, arr in table.values.items()}
    mine = cols.actor == code
    decay = np.exp2(-np.maximum(now_ms - cols.ts[mine], 0) / DAY_MS / half_life_days)
    categories: dict[str, float] = {}
    if item_categories:
        for item_code, w in zip(cols.item[mine].tolist(), decay.tolist(), strict=True):
            for c in item_categories.get(cols.items[item_code], ()):
                categories[c] = categories.get(c, 0.0) + w
    total = sum(categories.values())
    preferred = (
        [
            (c, round(w / total, 4))
            for c, w in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:top_categories]
        ]
        if total > 0
        else []
    )
    devices = cols.device[mine]
    known = devices[devices >= 0]
    device_mix = (
        {
            cols.devices[d]: round(float(n) / len(known), 4)
            for d, n in zip(*np.unique(known, return_counts=True), strict=True)
        }
        if len(known)
        else {}
    )
    ts, types = cols.ts[mine], cols.type[mine]
    last7 = ts >= now_ms - 7 * DAY_MS
    prev7 = (ts >= now_ms - 14 * DAY_MS) & ~last7
    trend = {}
    for t in np.unique(types).tolist():
        n_last, n_prev = int(np.sum(last7 & (types == t))), int(np.sum(prev7 & (types == t)))
        trend[EVENT_TYPES[t]] = {
            "last_7d": n_last,
            "previous_7d": n_prev,
            "change": round((n_last - n_prev) / max(n_prev, 1), 4),
        }
    return Profile(
        user_id=user_id,
        events=int(v["events"]),
        window_days=window_days,
        first_ms=int(v["first_ms"]),
        last_ms=int(v["last_ms"]),
        recency_days=round(v["recency_days"], 4),
        recency_score=round(v["recency_score"], 4),
        active_days=int(v["active_days"]),
        frequency_per_active_day=round(v["events"] / max(v["active_days"], 1), 4),
        sessions=int(v["sessions"]),
        session_events=round(v["session_events"], 4),
        session_seconds=round(v["session_seconds"], 3),
        active_ratio=round(v["active_ratio"], 4),
        engagement=round(v["engagement"], 4),
        engagement_level=_level(v["engagement"]),
        cart_per_session=round(v["cart_per_session"], 4),
        purchase_per_session=round(v["purchase_per_session"], 4),
        mean_dwell_s=round(v["mean_dwell_s"], 3),
        mean_scroll_depth=round(v["mean_scroll_depth"], 4),
        bot_share=round(v["bot_share"], 4),
        purchase_intent=round(v["purchase_intent"], 4),
        preferred_categories=preferred,
        device_mix=device_mix,
        trend=trend,
    )
