"""Synthetic behaviour data for demos, tests and benchmarks, deterministic by seed.

Generative model (why: it must carry collaborative signal a model can learn, look like real traffic
to the event pipeline, and hold behavioural types that segmentation can be checked against):

- items belong to one of ``categories x 8`` latent topics and have power-law popularity;
- each user likes 1-4 topics (Dirichlet weights) and explores uniformly 10% of the time; with
  ``category_focus`` p, each liked topic after the first lies in the first one's category with
  probability p (tastes that follow a shop's categories, as the demo storefront shows them; 0, the
  default, draws them independently of categories);
- each user has a **behavioural type** (:data:`BEHAVIOUR_TYPES`, mixed by :data:`DEFAULT_MIX`) that
  sets how often they come, how many items a session visits and how each visit's funnel goes;
  the type never changes *which* items a user picks, so every type but the crawling bot carries the
  same collaborative signal;
- a *session* visits ``visits`` items: the first by the user's tastes, each later one stays on the
  session's topic with probability 0.6 and otherwise picks again by the user's tastes; each item by
  popularity within its topic;
- each visit is a funnel: view -> click -> scroll / dwell -> add_to_cart -> purchase, plus ratings,
  likes, shares, hovers, dislikes and video plays, with lognormal dwell times, Beta scroll depths;
  visits follow each other inside the session, sessions start at diurnal times over ``days`` days
  ending at ``end`` (and end before it);
- a bot crawls: long sessions of views only, on items drawn uniformly from the catalogue, one every
  1-3 seconds at a fixed interval per bot, no dwell, scroll or click.

The types (shares of users in the default mix; mostly ordinary users):

| type | share | what they do |
|---|---|---|
| ``regular`` | 53% | 1-3 items a session, the ordinary funnel (the generator before types existed) |
| ``browser`` | 15% | long sessions (3-8 items), clicks, scrolls deep and dwells long, rarely buys |
| ``decider`` | 12% | short sessions (1-2 items) that end in add-to-cart and purchase, little scrolling |
| ``casual`` | 10% | few sparse one-item sessions, mostly views |
| ``enthusiast`` | 8.5% | frequent sessions, rates, likes and shares a lot |
| ``bot`` | 1.5% | crawls (see above): 30-100 views a session |

Output: an events CSV (``user_id,item_id,event_type,timestamp,value,session_id,device``) the
``events`` importer reads, a catalogue ``<name>.items.csv`` and the ground truth ``<name>.users.csv``
(``user_id,type``, every generated user) beside it; it is written in chunks, so 10M rows stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from graphrec.clock import DAY_MS, HOUR_MS
from graphrec.data.choices import DEFAULT_END, DEFAULT_MIX
from graphrec.event_types import EVENT_TYPES

CATEGORY_NAMES = (
    "Action",
    "Comedy",
    "Drama",
    "Documentary",
    "Sci-Fi",
    "Romance",
    "Thriller",
    "Animation",
    "Music",
    "Sports",
    "Cooking",
    "Travel",
    "Tech",
    "Fashion",
    "Gaming",
    "Health",
    "Kids",
    "History",
    "Art",
    "News",
)
TOPICS_PER_CATEGORY = 8
DEVICES = ("mobile", "desktop", "tablet")
_DEVICE_P = np.array([0.55, 0.35, 0.10])
_WRITE = pacsv.WriteOptions(quoting_style="needed")
_T = {name: code for code, name in enumerate(EVENT_TYPES)}
_STAY_ON_TOPIC = 0.6  # a later visit of a session keeps the session's topic this often
_ACTIVITY_SIGMA = 0.6  # spread (lognormal sigma) of how often users of one type come


@dataclass(frozen=True, slots=True)
class BehaviourType:
    """How one kind of user browses. Probabilities are per visit; ``scroll``, ``dwell``, ``cart``, ``rating``,
    ``like``, ``shares`` and ``video`` are given a click, ``purchase`` given a cart, ``hover`` given no click.
    Click, cart, like and share halve on an item outside the user's tastes (an exploring visit)."""

    name: str
    activity: float  # relative rate of sessions (a user's own rate is lognormal around it)
    visits: tuple[int, int]  # items per session, uniform in [low, high]
    click: float = 0.0
    hover: float = 0.0
    scroll: float = 0.0
    dwell: float = 0.0
    dwell_median_s: float = 35.0
    cart: float = 0.0
    purchase: float = 0.0
    rating: float = 0.0
    like: float = 0.0
    shares: float = 0.0
    video: float = 0.0
    crawler: bool = False  # views only, uniformly over the catalogue, at a fixed interval (bots)


BEHAVIOUR_TYPES: tuple[BehaviourType, ...] = (
    BehaviourType(
        "regular",
        1.0,
        (1, 3),
        click=0.65,
        hover=0.3,
        scroll=0.6,
        dwell=0.7,
        dwell_median_s=35.0,
        cart=0.12,
        purchase=0.5,
        rating=0.10,
        like=0.06,
        shares=0.02,
        video=0.08,
    ),
    BehaviourType(
        "browser",
        0.8,
        (3, 8),
        click=0.75,
        hover=0.5,
        scroll=0.95,
        dwell=0.95,
        dwell_median_s=110.0,
        cart=0.02,
        purchase=0.2,
        rating=0.04,
        like=0.04,
        shares=0.01,
        video=0.15,
    ),
    BehaviourType(
        "decider",
        1.0,
        (1, 2),
        click=0.95,
        hover=0.05,
        scroll=0.1,
        dwell=0.25,
        dwell_median_s=12.0,
        cart=0.8,
        purchase=0.85,
        rating=0.06,
        like=0.02,
        shares=0.01,
        video=0.01,
    ),
    BehaviourType(
        "casual",
        0.3,
        (1, 1),
        click=0.25,
        hover=0.2,
        scroll=0.3,
        dwell=0.5,
        dwell_median_s=15.0,
        cart=0.03,
        purchase=0.3,
        rating=0.02,
        like=0.02,
        video=0.02,
    ),
    BehaviourType(
        "enthusiast",
        2.5,
        (2, 4),
        click=0.9,
        hover=0.3,
        scroll=0.6,
        dwell=0.7,
        dwell_median_s=45.0,
        cart=0.10,
        purchase=0.5,
        rating=0.6,
        like=0.5,
        shares=0.3,
        video=0.2,
    ),
    BehaviourType("bot", 0.25, (30, 100), crawler=True),
)
TYPE_NAMES: tuple[str, ...] = tuple(t.name for t in BEHAVIOUR_TYPES)


def parse_mix(text: str) -> dict[str, float]:
    """``"regular=0.8,bot=0.2"`` as a mix (shares are normalised; unnamed types get none); ``ValueError``
    names the part that is wrong."""
    mix: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in TYPE_NAMES:
            raise ValueError(f"mix entry {part!r}: expected TYPE=SHARE with TYPE one of {', '.join(TYPE_NAMES)}")
        try:
            share = float(value)
        except ValueError:
            raise ValueError(f"mix entry {part!r}: share must be a number") from None
        if not share >= 0 or math.isinf(share):
            raise ValueError(f"mix entry {part!r}: share must be a finite number >= 0")
        mix[name] = share
    if sum(mix.values()) <= 0:
        raise ValueError("mix: at least one type needs a positive share")
    return mix


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    interactions: int
    seed: int = 0
    users: int | None = None
    items: int | None = None
    categories: int = 20
    days: int = 90
    end: datetime = DEFAULT_END
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    category_focus: float = 0.0

    @property
    def n_users(self) -> int:
        return self.users or max(20, math.ceil(self.interactions / 33))

    @property
    def n_items(self) -> int:
        return self.items or max(30, math.ceil(self.interactions / 25))


@dataclass(frozen=True, slots=True)
class SyntheticReport:
    events_path: Path
    items_path: Path
    users_path: Path
    events: int
    users: int
    items: int
    sessions: int
    types: dict[str, int]  # users per behavioural type


def catalogue_path(events_path: Path) -> Path:
    return events_path.with_name(events_path.name.split(".")[0] + ".items.csv")


def users_path(events_path: Path) -> Path:
    """Where the ground truth (``user_id,type``) of a generated events file lies."""
    return events_path.with_name(events_path.name.split(".")[0] + ".users.csv")


def read_user_types(path: Path) -> dict[str, str]:
    """The ``user_id -> type`` ground truth a :func:`generate` run wrote (for evaluating segmentation)."""
    table = pacsv.read_csv(
        path, convert_options=pacsv.ConvertOptions(column_types={"user_id": pa.string(), "type": pa.string()})
    )
    return dict(zip(table.column("user_id").to_pylist(), table.column("type").to_pylist(), strict=True))


def _type_table() -> dict[str, np.ndarray]:
    """The per-type parameters as arrays indexed by type code (the order of :data:`BEHAVIOUR_TYPES`)."""
    names = (
        "activity",
        "click",
        "hover",
        "scroll",
        "dwell",
        "dwell_median_s",
        "cart",
        "purchase",
        "rating",
        "like",
        "shares",
        "video",
    )
    table = {n: np.array([getattr(t, n) for t in BEHAVIOUR_TYPES], dtype=np.float64) for n in names}
    table["visits_low"] = np.array([t.visits[0] for t in BEHAVIOUR_TYPES], dtype=np.int64)
    table["visits_high"] = np.array([t.visits[1] for t in BEHAVIOUR_TYPES], dtype=np.int64)
    table["crawler"] = np.array([t.crawler for t in BEHAVIOUR_TYPES])
    return table


def generate(
    spec: SyntheticSpec, output: Path, *, progress: Callable[[int], None] | None = None, chunk_sessions: int = 50_000
) -> SyntheticReport:
    """Write ``spec.interactions`` event rows to ``output`` (CSV), the item catalogue and the users' types beside it."""
    if not 1 <= spec.categories <= len(CATEGORY_NAMES):
        raise ValueError(f"categories must be within 1..{len(CATEGORY_NAMES)}")
    unknown = sorted(set(spec.mix) - set(TYPE_NAMES))
    if unknown or any(not v >= 0 for v in spec.mix.values()) or sum(spec.mix.values()) <= 0:
        raise ValueError(f"mix must give shares >= 0 (at least one positive) to types among {', '.join(TYPE_NAMES)}")
    if not 0.0 <= spec.category_focus <= 1.0:
        raise ValueError("category_focus must be within [0, 1]")
    rng = np.random.default_rng(spec.seed)
    n_users, n_items = spec.n_users, spec.n_items
    n_topics = spec.categories * TOPICS_PER_CATEGORY
    params = _type_table()

    # Items: topic, popularity (Zipf-like), and per-topic popularity CDFs laid end to end.
    item_topic = rng.integers(0, n_topics, n_items)
    popularity = rng.pareto(1.2, n_items) + 1.0
    order = np.lexsort((np.arange(n_items), item_topic))
    sorted_topic = item_topic[order]
    cdf = np.empty(n_items)
    starts = np.searchsorted(sorted_topic, np.arange(n_topics))
    ends = np.searchsorted(sorted_topic, np.arange(n_topics), side="right")
    pops = popularity[order]
    for t in range(n_topics):  # per topic (<= 160), not per item
        s, e = starts[t], ends[t]
        if e > s:
            cdf[s:e] = t + np.cumsum(pops[s:e]) / pops[s:e].sum()
    topic_has_items = ends > starts

    # Users: 1-4 liked topics with Dirichlet weights; a behavioural type; a device; a session rate.
    n_fav = rng.integers(1, 5, n_users)
    fav = rng.integers(0, n_topics, (n_users, 4))
    if spec.category_focus > 0:  # further liked topics in the first one's category (no draws at 0)
        home = fav[:, :1] // TOPICS_PER_CATEGORY * TOPICS_PER_CATEGORY
        focused = rng.random((n_users, 3)) < spec.category_focus
        fav[:, 1:] = np.where(focused, home + rng.integers(0, TOPICS_PER_CATEGORY, (n_users, 3)), fav[:, 1:])
    fav_w = rng.dirichlet(np.ones(4), n_users) * (np.arange(4)[None, :] < n_fav[:, None])
    fav_w /= fav_w.sum(axis=1, keepdims=True)
    fav_cdf = np.cumsum(fav_w, axis=1)
    shares = np.array([spec.mix.get(name, 0.0) for name in TYPE_NAMES], dtype=np.float64)
    user_type = rng.choice(len(TYPE_NAMES), n_users, p=shares / shares.sum())
    user_device = rng.choice(len(DEVICES), n_users, p=_DEVICE_P)
    bot_interval_ms = rng.integers(1_000, 3_001, n_users)
    activity = rng.lognormal(0.0, _ACTIVITY_SIGMA, n_users) * params["activity"][user_type]
    activity /= activity.sum()

    end_ms = int(spec.end.timestamp() * 1000)
    span_ms = spec.days * DAY_MS
    items_path = catalogue_path(output)
    _write_catalogue(items_path, rng, item_topic, spec.categories)
    types_path = users_path(output)
    pacsv.write_csv(
        pa.table(
            {
                "user_id": np.char.add("u", np.arange(n_users).astype(str)),
                "type": np.asarray(TYPE_NAMES, dtype=object)[user_type].astype(str),
            }
        ),
        types_path,
        write_options=_WRITE,
    )

    output.parent.mkdir(parents=True, exist_ok=True)
    written = sessions_total = 0
    with pacsv.CSVWriter(output, _SCHEMA, write_options=_WRITE) as writer:
        while written < spec.interactions:
            users = rng.choice(n_users, chunk_sessions, p=activity)
            kind = user_type[users]
            low, high = params["visits_low"][kind], params["visits_high"][kind]
            visits = low + (rng.random(chunk_sessions) * (high - low + 1)).astype(np.int64)
            # one row per visit: its session, its position in the session
            session = np.repeat(np.arange(chunk_sessions), visits)
            first = np.r_[0, np.cumsum(visits)[:-1]]
            position = np.arange(len(session)) - first[session]
            v_user = users[session]
            explore = rng.random(len(session)) < 0.10
            pick = (rng.random(len(session))[:, None] > fav_cdf[v_user]).sum(axis=1)
            topic = np.where(explore, rng.integers(0, n_topics, len(session)), fav[v_user, np.minimum(pick, 3)])
            stay = (position > 0) & (rng.random(len(session)) < _STAY_ON_TOPIC)
            topic = np.where(stay, topic[first[session]], topic)
            explore = np.where(stay, explore[first[session]], explore)
            topic = np.where(topic_has_items[topic], topic, item_topic[rng.integers(0, n_items, len(session))])
            idx = np.searchsorted(cdf, topic + rng.random(len(session)) * (1 - 1e-12), side="right")
            items = order[np.clip(idx, starts[topic], ends[topic] - 1)]
            crawl = params["crawler"][user_type[v_user]]
            items = np.where(crawl, rng.integers(0, n_items, len(session)), items)
            table, row_session = _events(
                rng,
                params,
                user_type,
                user_device,
                bot_interval_ms,
                v_user,
                items,
                ~explore,
                session,
                first,
                end_ms,
                span_ms,
                session_offset=sessions_total,
            )
            take = min(table.num_rows, spec.interactions - written)
            if take < table.num_rows:
                # Sessions come in random order: the first whole sessions (the last one cut) make a sample
                # that spans every day, where the first rows by time would end early.
                keep = np.sort(np.lexsort((np.arange(table.num_rows), row_session))[:take])
                table = table.take(pa.array(keep))
            writer.write_table(table)
            written += take
            sessions_total += chunk_sessions
            if progress is not None:
                progress(take)
    counts = np.bincount(user_type, minlength=len(TYPE_NAMES))
    return SyntheticReport(
        output,
        items_path,
        types_path,
        written,
        n_users,
        n_items,
        sessions_total,
        {name: int(n) for name, n in zip(TYPE_NAMES, counts, strict=True) if n},
    )


_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("event_type", pa.string()),
        ("timestamp", pa.int64()),
        ("value", pa.float64()),
        ("session_id", pa.string()),
        ("device", pa.string()),
    ]
)


def _events(
    rng: np.random.Generator,
    params: dict[str, np.ndarray],
    user_type: np.ndarray,
    user_device: np.ndarray,
    bot_interval_ms: np.ndarray,
    users: np.ndarray,
    items: np.ndarray,
    affinity: np.ndarray,
    session: np.ndarray,
    first: np.ndarray,
    end_ms: int,
    span_ms: int,
    *,
    session_offset: int,
) -> tuple[pa.Table, np.ndarray]:
    """Expand visits (rows: user, item, session code, in session order) into the funnel's events, ordered by
    time; with each event's session code."""
    n = len(users)
    kind = user_type[users]
    p = {name: values[kind] for name, values in params.items()}
    crawl = p["crawler"]
    boost = np.where(affinity, 1.0, 0.5)
    human = ~crawl

    def chance(prob: np.ndarray) -> np.ndarray:
        return rng.random(n) < prob

    clicked = human & chance(p["click"] * boost)
    carted = clicked & chance(p["cart"] * boost)
    nan = np.full(n, np.nan)
    steps: list[tuple[np.ndarray, int, np.ndarray, int]] = [
        (np.ones(n, bool), _T["view"], nan, 0),
        (human & ~clicked & chance(p["hover"]), _T["hover"], nan, 2_000),
        (clicked, _T["click"], nan, 4_000),
        (clicked & chance(p["scroll"]), _T["scroll"], np.round(rng.beta(2.0, 2.0, n), 3), 20_000),
        (
            clicked & chance(p["dwell"]),
            _T["dwell"],
            np.round(np.minimum(rng.lognormal(np.log(p["dwell_median_s"]), 1.0, n), 3_600.0), 1),
            60_000,
        ),
        (clicked & chance(p["video"]), _T["video_play"], np.round(rng.uniform(5, 600, n), 1), 90_000),
        (carted, _T["add_to_cart"], nan, 120_000),
        (carted & chance(p["purchase"]), _T["purchase"], nan, 300_000),
        (
            clicked & chance(p["rating"]),
            _T["rating"],
            np.clip(np.round(rng.normal(np.where(affinity, 4.2, 2.8), 0.8, n)), 1, 5),
            400_000,
        ),
        (clicked & chance(p["like"] * boost), _T["like"], nan, 410_000),
        (clicked & chance(p["shares"] * boost), _T["share"], nan, 420_000),
        (human & ~affinity & chance(np.full(n, 0.04)), _T["dislike"], nan, 30_000),
    ]
    # A visit lasts until its last event, then the next one starts after a pause (bots: their interval).
    last = np.zeros(n, dtype=np.int64)
    for mask, _, _, offset in steps:
        last = np.where(mask, np.maximum(last, offset), last)
    duration = np.where(crawl, bot_interval_ms[users], last + rng.integers(5_000, 60_000, n))
    elapsed = np.cumsum(duration) - duration  # start of each visit after the first visit of the chunk
    visit_start = elapsed - elapsed[first[session]]  # ... relative to its session's first visit
    session_length = np.bincount(session, weights=duration).astype(np.int64)
    n_sessions = len(first)
    day = rng.integers(0, span_ms // DAY_MS, n_sessions)
    hour = np.clip(rng.normal(19.0, 4.0, n_sessions), 0, 23.99)  # evening-heavy traffic
    start = end_ms - span_ms + day * DAY_MS + (hour * HOUR_MS).astype(np.int64)
    start = np.minimum(start, end_ms - session_length)  # a session ends before the data does
    device = np.where(
        rng.random(n_sessions) < 0.85, user_device[users[first]], rng.integers(0, len(DEVICES), n_sessions)
    )

    sel = [np.flatnonzero(mask) for mask, *_ in steps]
    rows = np.concatenate(sel)
    rows_type = np.concatenate([np.full(len(s), code, np.int8) for s, (_, code, _, _) in zip(sel, steps, strict=True)])
    rows_value = np.concatenate([vals[s] for s, (_, _, vals, _) in zip(sel, steps, strict=True)])
    rows_ts = (
        start[session[rows]]
        + visit_start[rows]
        + np.concatenate([np.full(len(s), off, np.int64) for s, (*_, off) in zip(sel, steps, strict=True)])
    )
    rank = np.lexsort((rows_type, rows, rows_ts))  # by time; a visit's events in funnel order
    rows, rows_type, rows_value, rows_ts = rows[rank], rows_type[rank], rows_value[rank], rows_ts[rank]
    names = np.asarray(EVENT_TYPES, dtype=object)
    table = pa.table(
        {
            "user_id": pa.array(np.char.add("u", users[rows].astype(str))),
            "item_id": pa.array(np.char.add("i", items[rows].astype(str))),
            "event_type": pa.array(names[rows_type].tolist(), pa.string()),
            "timestamp": pa.array(rows_ts, pa.int64()),
            "value": pa.array(rows_value, pa.float64(), from_pandas=True),
            "session_id": pa.array(np.char.add("s", (session[rows] + session_offset).astype(str))),
            "device": pa.array(np.asarray(DEVICES, dtype=object)[device[session[rows]]].tolist(), pa.string()),
        },
        schema=_SCHEMA,
    )
    return table, session[rows]


def _write_catalogue(path: Path, rng: np.random.Generator, item_topic: np.ndarray, categories: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    category = item_topic // TOPICS_PER_CATEGORY
    names = np.asarray(CATEGORY_NAMES[:categories], dtype=object)[category]
    ids = np.char.add("i", np.arange(len(item_topic)).astype(str))
    titles = np.char.add(np.char.add(names.astype(str), " #"), np.arange(len(item_topic)).astype(str))
    pacsv.write_csv(
        pa.table({"item_id": ids, "title": titles, "category": names.astype(str)}), path, write_options=_WRITE
    )
