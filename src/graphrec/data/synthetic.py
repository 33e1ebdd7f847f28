"""Synthetic behaviour data for demos, tests and benchmarks, deterministic by seed.

Generative model (why: it must carry collaborative signal a model can learn, and look like real
traffic to the event pipeline):
- items belong to one of ``categories x 8`` latent topics and have power-law popularity;
- each user likes 1-4 topics (Dirichlet weights) and explores uniformly 10% of the time; with
  ``category_focus`` p, each liked topic after the first lies in the first one's category with
  probability p (tastes that follow a shop's categories, as the demo storefront shows them;
  0, the default, draws them independently of categories, with the same random stream as before);
- a *session* picks a topic from the user's tastes, then an item within it by popularity;
- each session is a funnel: view -> click -> scroll / dwell -> add_to_cart -> purchase, plus
  ratings, likes, shares, hovers, dislikes and video plays, with lognormal dwell times, Beta
  scroll depths and diurnal timestamps over ``days`` days ending at ``end``.
Output is an events CSV (``user_id,item_id,event_type,timestamp,value``) the ``events`` importer
reads, and a catalogue ``<name>.items.csv`` beside it; it is written in chunks, so 10M rows stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from graphrec.event_types import EVENT_TYPES

CATEGORY_NAMES = (
    "Action", "Comedy", "Drama", "Documentary", "Sci-Fi", "Romance", "Thriller", "Animation", "Music",
    "Sports", "Cooking", "Travel", "Tech", "Fashion", "Gaming", "Health", "Kids", "History", "Art", "News",
)
TOPICS_PER_CATEGORY = 8
DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
_WRITE = pacsv.WriteOptions(quoting_style="needed")
_T = {name: code for code, name in enumerate(EVENT_TYPES)}


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    interactions: int
    seed: int = 0
    users: int | None = None
    items: int | None = None
    categories: int = 20
    days: int = 90
    end: datetime = DEFAULT_END
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
    events: int
    users: int
    items: int


def catalogue_path(events_path: Path) -> Path:
    return events_path.with_name(events_path.name.split(".")[0] + ".items.csv")


def generate(spec: SyntheticSpec, output: Path, *, progress: Callable[[int], None] | None = None,
             chunk_sessions: int = 200_000) -> SyntheticReport:
    """Write ``spec.interactions`` event rows to ``output`` (CSV) and the item catalogue beside it."""
    if not 1 <= spec.categories <= len(CATEGORY_NAMES):
        raise ValueError(f"categories must be within 1..{len(CATEGORY_NAMES)}")
    if not 0.0 <= spec.category_focus <= 1.0:
        raise ValueError("category_focus must be within [0, 1]")
    rng = np.random.default_rng(spec.seed)
    n_users, n_items = spec.n_users, spec.n_items
    n_topics = spec.categories * TOPICS_PER_CATEGORY

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

    # Users: 1-4 liked topics with Dirichlet weights; activity is lognormal.
    n_fav = rng.integers(1, 5, n_users)
    fav = rng.integers(0, n_topics, (n_users, 4))
    if spec.category_focus > 0:  # further liked topics in the first one's category (no draws at 0)
        home = fav[:, :1] // TOPICS_PER_CATEGORY * TOPICS_PER_CATEGORY
        focused = rng.random((n_users, 3)) < spec.category_focus
        fav[:, 1:] = np.where(focused, home + rng.integers(0, TOPICS_PER_CATEGORY, (n_users, 3)), fav[:, 1:])
    fav_w = rng.dirichlet(np.ones(4), n_users) * (np.arange(4)[None, :] < n_fav[:, None])
    fav_w /= fav_w.sum(axis=1, keepdims=True)
    activity = rng.lognormal(0.0, 1.0, n_users)
    activity /= activity.sum()

    end_ms = int(spec.end.timestamp() * 1000)
    span_ms = spec.days * 86_400_000
    items_path = catalogue_path(output)
    _write_catalogue(items_path, rng, item_topic, spec.categories)

    output.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with pacsv.CSVWriter(output, _SCHEMA, write_options=_WRITE) as writer:
        while written < spec.interactions:
            sessions = chunk_sessions
            users = rng.choice(n_users, sessions, p=activity)
            explore = rng.random(sessions) < 0.10
            pick = (rng.random(sessions)[:, None] > np.cumsum(fav_w[users], axis=1)).sum(axis=1)
            topic = np.where(explore, rng.integers(0, n_topics, sessions),
                             fav[users, np.minimum(pick, 3)])
            topic = np.where(topic_has_items[topic], topic, item_topic[rng.integers(0, n_items, sessions)])
            idx = np.searchsorted(cdf, topic + rng.random(sessions) * (1 - 1e-12), side="right")
            items = order[np.clip(idx, starts[topic], ends[topic] - 1)]
            affinity = ~explore
            table = _funnel(rng, users, items, affinity, end_ms, span_ms)
            take = min(table.num_rows, spec.interactions - written)
            writer.write_table(table.slice(0, take))
            written += take
            if progress is not None:
                progress(take)
    return SyntheticReport(output, items_path, written, n_users, n_items)


_SCHEMA = pa.schema([("user_id", pa.string()), ("item_id", pa.string()), ("event_type", pa.string()),
                     ("timestamp", pa.int64()), ("value", pa.float64())])


def _funnel(rng: np.random.Generator, users: np.ndarray, items: np.ndarray, affinity: np.ndarray,
            end_ms: int, span_ms: int) -> pa.Table:
    """Expand sessions into events; probabilities rise with taste affinity."""
    n = len(users)
    day = rng.integers(0, span_ms // 86_400_000, n)
    hour = np.clip(rng.normal(19.0, 4.0, n), 0, 23.99)  # evening-heavy traffic
    start = end_ms - span_ms + day * 86_400_000 + (hour * 3_600_000).astype(np.int64)
    boost = np.where(affinity, 1.0, 0.5)
    clicked = rng.random(n) < 0.55 * boost + 0.1
    carted = clicked & (rng.random(n) < 0.12 * boost)
    steps: list[tuple[np.ndarray, int, np.ndarray, int]] = [
        (np.ones(n, bool), _T["view"], np.full(n, np.nan), 0),
        (~clicked & (rng.random(n) < 0.3), _T["hover"], np.full(n, np.nan), 2_000),
        (clicked, _T["click"], np.full(n, np.nan), 4_000),
        (clicked & (rng.random(n) < 0.6), _T["scroll"], np.round(rng.beta(2.0, 2.0, n), 3), 20_000),
        (clicked & (rng.random(n) < 0.7), _T["dwell"],
         np.round(np.minimum(rng.lognormal(math.log(35.0), 1.0, n), 3_600.0), 1), 60_000),
        (clicked & (rng.random(n) < 0.08), _T["video_play"], np.round(rng.uniform(5, 600, n), 1), 90_000),
        (carted, _T["add_to_cart"], np.full(n, np.nan), 120_000),
        (carted & (rng.random(n) < 0.5), _T["purchase"], np.full(n, np.nan), 300_000),
        (clicked & (rng.random(n) < 0.10), _T["rating"],
         np.clip(np.round(rng.normal(np.where(affinity, 4.2, 2.8), 0.8, n)), 1, 5), 400_000),
        (clicked & (rng.random(n) < 0.06 * boost), _T["like"], np.full(n, np.nan), 410_000),
        (clicked & (rng.random(n) < 0.02 * boost), _T["share"], np.full(n, np.nan), 420_000),
        (~affinity & (rng.random(n) < 0.04), _T["dislike"], np.full(n, np.nan), 30_000),
    ]
    sel = [np.flatnonzero(mask) for mask, *_ in steps]
    rows_user = np.concatenate([users[s] for s in sel])
    rows_item = np.concatenate([items[s] for s in sel])
    rows_type = np.concatenate([np.full(len(s), code, np.int8) for s, (_, code, _, _) in zip(sel, steps,
                                                                                             strict=True)])
    rows_value = np.concatenate([vals[s] for s, (_, _, vals, _) in zip(sel, steps, strict=True)])
    rows_ts = np.concatenate([start[s] + off for s, (*_, off) in zip(sel, steps, strict=True)])
    rows_ts = np.minimum(rows_ts, end_ms)
    rank = np.argsort(rows_ts, kind="stable")
    names = np.asarray(EVENT_TYPES, dtype=object)
    return pa.table({
        "user_id": pa.array(np.char.add("u", rows_user[rank].astype(str))),
        "item_id": pa.array(np.char.add("i", rows_item[rank].astype(str))),
        "event_type": pa.array(names[rows_type[rank]].tolist(), pa.string()),
        "timestamp": pa.array(rows_ts[rank], pa.int64()),
        "value": pa.array(rows_value[rank], pa.float64(), from_pandas=True),
    }, schema=_SCHEMA)


def _write_catalogue(path: Path, rng: np.random.Generator, item_topic: np.ndarray, categories: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    category = item_topic // TOPICS_PER_CATEGORY
    names = np.asarray(CATEGORY_NAMES[:categories], dtype=object)[category]
    ids = np.char.add("i", np.arange(len(item_topic)).astype(str))
    titles = np.char.add(np.char.add(names.astype(str), " #"), np.arange(len(item_topic)).astype(str))
    pacsv.write_csv(pa.table({"item_id": ids, "title": titles, "category": names.astype(str)}), path,
                    write_options=_WRITE)
