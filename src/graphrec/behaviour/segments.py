"""Behavioural segments: users clustered on their profile features, outliers set aside, each segment named.

Why this pipeline (``graphrec segment`` runs it; the README shows it on a generated 1M-event set):

1. **Features** (:data:`SEGMENT_FEATURES`, from :func:`graphrec.behaviour.profiles.profile_table`): how often
   a user comes (``sessions``), how a session goes (events, minutes, active share, purchases, views, scrolls,
   dwell) and how fast events come (``events_per_minute``, the bot signal). Counts and durations
   are ``log1p``'d (they are heavy-tailed). Rates are **shrunk** toward the population's rate with a prior
   worth :attr:`SegmentConfig.prior_sessions` sessions (per-session rates) or
   :attr:`SegmentConfig.prior_events` events (shares): ``(x * n + prior * mean) / (n + prior)``. Without
   it a user with one session that ended in a purchase is an extreme "decider"; with it, little evidence
   means "like everyone", which is what the clustering should see. The mean dwell is shrunk with
   ``prior_sessions`` pseudo-dwells.
2. **Standardise** (z-scores) and **PCA** (the components explaining :attr:`SegmentConfig.pca_variance` of
   the variance): correlated features (sessions and events, session length and dwell) stop counting twice.
3. **Outliers** (DBSCAN): ``eps`` is the :attr:`SegmentConfig.outlier_quantile` quantile of every user's
   distance to their ``min_samples``-th neighbour. Users in DBSCAN clusters holding at least
   :attr:`SegmentConfig.body_share` of all users are the body; the others (noise, and small dense groups
   far from the body, such as bots that all look alike) are set aside so they cannot drag the body's
   centroids. A small dense group of at least :attr:`SegmentConfig.min_group` users becomes a segment of
   its own.
4. **Clusters** of the body: K-Means for every k in ``[k_min, k_max]`` on a seeded sample of
   :attr:`SegmentConfig.silhouette_sample` users, the k with the best silhouette wins (a tie: the smaller
   k); or, with ``method="gmm"``, a Gaussian mixture per k and the lowest BIC. The chosen k is fitted on the
   whole body; then every set-aside user joins the nearest segment centroid (outlier groups included).
5. **Names** (:func:`name_segments`): from each segment's centroid as z-scores against the whole
   population, by the documented rules of :data:`PERSONAS`; unique.

Everything is vectorised (numpy, scikit-learn) and seeded: the same log and config give the same segments.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from graphrec import clock
from graphrec.behaviour.profiles import ProfileTable, profile_table
from graphrec.clock import DAY_MS
from graphrec.events.log import EventLog
from graphrec.graph.port import SegmentStore
from graphrec.graph.records import SegmentRecord

SEGMENT_FEATURES: tuple[str, ...] = (
    "sessions",  # log1p(sessions)
    "events_per_session",  # log1p(shrunk mean events per session)
    "session_minutes",  # log1p(shrunk mean session length, minutes)
    "active_ratio",  # shrunk share of deliberate acts (click, cart, purchase, rating, like, share, dislike)
    "purchase_per_session",  # shrunk
    "view_share",  # shrunk
    "scroll_share",  # shrunk
    "dwell_s",  # log1p(shrunk mean dwell seconds)
    "events_per_minute",  # log1p(events per minute of session time)
)
"""The features segments are clustered on (``Segment.z`` lists their z-scores in this order). Carts per session
are left out: they move with purchases, and counting conversion twice made "buys or not" the one split the
silhouette preferred (measured on generated sets); the centroid still reports them."""

CENTROID_FEATURES: tuple[str, ...] = (
    "events",
    "sessions",
    "active_days",
    "recency_days",
    "session_events",
    "session_seconds",
    "active_ratio",
    "cart_per_session",
    "purchase_per_session",
    "view_share",
    "scroll_share",
    "mean_dwell_s",
    "events_per_minute",
    "bot_share",
)
"""The profile features (:func:`~graphrec.behaviour.profiles.profile_table`, their everyday units) a segment's
``centroid`` gives the members' mean of: what an analyst reads on a ``(:Segment)`` node."""

_LOGGED = frozenset({"sessions", "events_per_session", "session_minutes", "dwell_s", "events_per_minute"})

Method = Literal["kmeans", "gmm"]


@dataclass(frozen=True, slots=True)
class SegmentConfig:
    """How :func:`segment` clusters (see the module docstring for each step)."""

    k_min: int = 2
    k_max: int = 8
    method: Method = "kmeans"
    pca_variance: float = 0.95
    min_samples: int = 10
    outlier_quantile: float = 0.98
    body_share: float = 0.05
    min_group: int = 10
    prior_sessions: float = 2.0
    prior_events: float = 10.0
    silhouette_sample: int = 5_000
    seed: int = 0

    def __post_init__(self) -> None:
        problems = [
            msg
            for bad, msg in (
                (not 2 <= self.k_min <= self.k_max <= 30, "need 2 <= k_min <= k_max <= 30"),
                (self.method not in ("kmeans", "gmm"), "method must be kmeans or gmm"),
                (not 0 < self.pca_variance <= 1, "pca_variance must be within (0, 1]"),
                (self.min_samples < 2, "min_samples must be at least 2"),
                (not 0 < self.outlier_quantile < 1, "outlier_quantile must be within (0, 1)"),
                (not 0 < self.body_share < 1, "body_share must be within (0, 1)"),
                (self.min_group < 1, "min_group must be positive"),
                (self.prior_sessions < 0 or self.prior_events < 0, "priors must be >= 0"),
                (self.silhouette_sample < 100, "silhouette_sample must be at least 100"),
            )
            if bad
        ]
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its name, members, the members' mean profile (``centroid``, over :data:`CENTROID_FEATURES`)
    and their mean clustering features as z-scores against the whole population (``z``, over
    :data:`SEGMENT_FEATURES`); the naming rules read both."""

    name: str
    size: int
    centroid: dict[str, float]
    z: dict[str, float]
    rule: str  # why it has its name
    outlier_group: bool = False  # a small dense group the density step set aside (e.g. bots)


@dataclass(frozen=True, slots=True)
class Segmentation:
    """Every actor's segment (``labels`` index ``segments``; rows follow ``actors``) and how it was chosen."""

    actors: list[str]
    labels: np.ndarray
    segments: list[Segment]
    k: int
    scores: dict[int, float] = field(default_factory=dict)  # silhouette (kmeans) or BIC (gmm) per k
    set_aside: int = 0  # users the density step set aside before clustering
    method: Method = "kmeans"
    pca_components: int = 0

    def members(self) -> Iterator[tuple[str, str]]:
        """``(actor, segment name)`` for every actor."""
        names = [s.name for s in self.segments]
        for actor, label in zip(self.actors, self.labels.tolist(), strict=True):
            yield actor, names[label]

    def agreement(self, truth: dict[str, str]) -> tuple[float, int]:
        """Adjusted Rand index between the segments and known types (``actor -> type``, e.g. the generator's
        ground truth) over the actors both know, and how many those are."""
        known = [k for k, a in enumerate(self.actors) if a in truth]
        if not known:
            return float("nan"), 0
        types = [truth[self.actors[k]] for k in known]
        return float(adjusted_rand_score(types, self.labels[known])), len(known)

    def crosstab(self, truth: dict[str, str]) -> dict[str, dict[str, int]]:
        """Per segment, how many of its actors have each known type."""
        table: dict[str, dict[str, int]] = {s.name: {} for s in self.segments}
        for actor, name in self.members():
            if actor in truth:
                row = table[name]
                row[truth[actor]] = row.get(truth[actor], 0) + 1
        return table


def _shrink(rate: np.ndarray, n: np.ndarray, prior: float) -> np.ndarray:
    """``rate`` (observed over ``n`` trials) pulled toward the population rate by ``prior`` pseudo-trials."""
    total = float(n.sum())
    mean = float((rate * n).sum() / total) if total > 0 else 0.0
    shrunk: np.ndarray = (rate * n + prior * mean) / np.maximum(n + prior, 1e-12)
    return shrunk


def segment_features(table: ProfileTable, *, prior_sessions: float = 2.0, prior_events: float = 10.0) -> np.ndarray:
    """``(n_actors, len(SEGMENT_FEATURES))``: the features of the module docstring, step 1."""
    v = table.values
    if not table.actors:
        return np.zeros((0, len(SEGMENT_FEATURES)))
    sessions, events, dwells = v["sessions"], v["events"], v["dwell_events"]
    per_session = {
        "events_per_session": v["session_events"],
        "session_minutes": v["session_seconds"] / 60.0,
        "purchase_per_session": v["purchase_per_session"],
    }
    shares = {"active_ratio": v["active_ratio"], "view_share": v["view_share"], "scroll_share": v["scroll_share"]}
    out = {
        "sessions": sessions,
        "events_per_minute": v["events_per_minute"],
        "dwell_s": _shrink(v["mean_dwell_s"], dwells, prior_sessions),
    }
    out |= {f: _shrink(x, sessions, prior_sessions) for f, x in per_session.items()}
    out |= {f: _shrink(x, events, prior_events) for f, x in shares.items()}
    return np.column_stack([np.log1p(out[f]) if f in _LOGGED else out[f] for f in SEGMENT_FEATURES])


# -- naming -------------------------------------------------------------------------------------------------

BOT_EVENTS_PER_MINUTE = 10.0  # a segment whose members average more events per session minute is bots

Rule = Callable[[dict[str, float], dict[str, float]], float | None]


def _bots(c: dict[str, float], z: dict[str, float]) -> float | None:
    rate = c["events_per_minute"]
    return rate if rate >= BOT_EVENTS_PER_MINUTE or c["bot_share"] >= 0.5 else None


def _deciders(c: dict[str, float], z: dict[str, float]) -> float | None:
    return z["purchase_per_session"] + z["active_ratio"] if z["purchase_per_session"] >= 1.0 else None


def _browsers(c: dict[str, float], z: dict[str, float]) -> float | None:
    ok = (
        z["events_per_session"] >= 0.5
        and z["dwell_s"] >= 0.3
        and z["active_ratio"] < 0.5
        and z["purchase_per_session"] < 0.5
    )
    return z["events_per_session"] + z["dwell_s"] + z["scroll_share"] if ok else None


def _enthusiasts(c: dict[str, float], z: dict[str, float]) -> float | None:
    ok = z["sessions"] >= 0.5 and z["active_ratio"] >= 0.5 and z["purchase_per_session"] < 1.0
    return z["sessions"] + z["active_ratio"] if ok else None


def _casual(c: dict[str, float], z: dict[str, float]) -> float | None:
    ok = z["sessions"] <= -0.5 and z["events_per_session"] <= -0.5
    return -(z["sessions"] + z["events_per_session"]) if ok else None


PERSONAS: tuple[tuple[str, str, Rule], ...] = (
    (
        "bots",
        f"mean events per session minute >= {BOT_EVENTS_PER_MINUTE:g}, or a mean bot share >= 0.5 (the "
        "pipeline's bot guard flagged most events) (score: events per minute)",
        _bots,
    ),
    ("deciders", "purchases per session z >= 1 (score: z of purchases per session + active share)", _deciders),
    (
        "browsers",
        "events per session z >= 0.5, dwell z >= 0.3, active share z < 0.5, purchases z < 0.5 "
        "(score: z of events per session + dwell + scroll share)",
        _browsers,
    ),
    (
        "enthusiasts",
        "sessions z >= 0.5, active share z >= 0.5, purchases z < 1 (score: z of sessions + active share)",
        _enthusiasts,
    ),
    ("casual", "sessions z <= -0.5 and events per session z <= -0.5 (score: minus their sum)", _casual),
)
"""The naming rules: ``(name, rule, score)``; a segment qualifies for a name when its score is not None.
Names are handed out best score first, one segment per name; of the segments left, the one closest to the
population mean is ``regulars`` and every other is named after its most distinctive feature
(``"high dwell_s"``, ``"low sessions"``; a number is added if that is taken)."""

REGULARS = "regulars"


def name_segments(centroids: Sequence[dict[str, float]], zs: Sequence[dict[str, float]]) -> list[tuple[str, str]]:
    """``(name, rule)`` per segment, unique (see :data:`PERSONAS`)."""
    scored = [
        (score, k, name, rule)
        for k, (c, z) in enumerate(zip(centroids, zs, strict=True))
        for name, rule, fn in PERSONAS
        if (score := fn(c, z)) is not None
    ]
    named: dict[int, tuple[str, str]] = {}
    taken: set[str] = set()
    for score, k, name, rule in sorted(scored, key=lambda t: (-t[0], t[1], t[2])):
        if k not in named and name not in taken:
            named[k] = (name, f"{rule}; score {score:.2f}")
            taken.add(name)
    rest = sorted(
        (k for k in range(len(zs)) if k not in named), key=lambda k: (float(np.linalg.norm(list(zs[k].values()))), k)
    )
    for position, k in enumerate(rest):
        if position == 0 and REGULARS not in taken:
            name, rule = REGULARS, "no persona rule holds; closest to the population mean"
        else:
            feature, value = max(zs[k].items(), key=lambda kv: (abs(kv[1]), kv[0]))
            name = f"{'high' if value > 0 else 'low'} {feature}"
            rule = f"no persona rule holds; most distinctive: {feature} z = {value:+.2f}"
        base, n = name, 2
        while name in taken:
            name, n = f"{base} {n}", n + 1
        named[k] = (name, rule)
        taken.add(name)
    return [named[k] for k in range(len(zs))]


# -- the pipeline -------------------------------------------------------------------------------------------


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x - mean) / std, mean, std


def _density_groups(points: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    """DBSCAN labels (-1: noise) with ``eps`` from the k-distance quantile (module docstring, step 3)."""
    k = min(cfg.min_samples, len(points) - 1)
    distances = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)[0][:, -1]
    eps = max(float(np.quantile(distances, cfg.outlier_quantile)), 1e-9)
    labels: np.ndarray = DBSCAN(eps=eps, min_samples=k).fit_predict(points)
    return labels


def _cluster_body(body: np.ndarray, cfg: SegmentConfig) -> tuple[int, dict[int, float], np.ndarray, np.ndarray]:
    """(k, score per k, labels of the body, centroids) for the chosen k (module docstring, step 4).

    k is chosen on a seeded sample of at most ``silhouette_sample`` users (a fit per k and its silhouette
    or BIC); only the chosen k is then fitted on the whole body, so the cost grows with the body once."""
    rng = np.random.default_rng(cfg.seed)
    sample = body[rng.choice(len(body), min(cfg.silhouette_sample, len(body)), replace=False)]
    scores: dict[int, float] = {}
    for k in range(cfg.k_min, min(cfg.k_max, len(sample) - 1) + 1):
        if cfg.method == "kmeans":
            labels = KMeans(n_clusters=k, n_init=4, random_state=cfg.seed).fit_predict(sample)
            if len(np.unique(labels)) > 1:
                scores[k] = float(silhouette_score(sample, labels))
        else:
            scores[k] = float(
                GaussianMixture(n_components=k, covariance_type="full", n_init=1, random_state=cfg.seed)
                .fit(sample)
                .bic(sample)
            )
    if not scores:  # too few distinct users to split
        return 1, {}, np.zeros(len(body), dtype=np.int64), body.mean(axis=0, keepdims=True)
    if cfg.method == "kmeans":  # the best silhouette; a tie goes to the smaller k
        best = max(scores, key=lambda k: (scores[k], -k))
        km = KMeans(n_clusters=best, n_init=4, random_state=cfg.seed).fit(body)
        return best, scores, km.labels_.astype(np.int64), km.cluster_centers_
    best = min(scores, key=lambda k: (scores[k], k))  # the lowest BIC; a tie goes to the smaller k
    gm = GaussianMixture(n_components=best, covariance_type="full", n_init=2, random_state=cfg.seed).fit(body)
    return best, scores, gm.predict(body).astype(np.int64), gm.means_


def segment(table: ProfileTable, config: SegmentConfig | None = None) -> Segmentation:
    """Cluster every actor of ``table`` into named segments (the module docstring's five steps)."""
    cfg = config or SegmentConfig()
    n = len(table.actors)
    if n == 0:
        return Segmentation([], np.zeros(0, dtype=np.int64), [], 0, method=cfg.method)
    features = segment_features(table, prior_sessions=cfg.prior_sessions, prior_events=cfg.prior_events)
    z, _, _ = _standardise(features)
    if n < max(cfg.min_samples + 1, cfg.k_min + 1):  # too few users to cluster: one segment
        labels = np.zeros(n, dtype=np.int64)
        return Segmentation(list(table.actors), labels, _describe(z, labels, [False], table), 1, method=cfg.method)
    pca = PCA(n_components=cfg.pca_variance if cfg.pca_variance < 1 else None, svd_solver="full", random_state=cfg.seed)
    points = pca.fit_transform(z)

    groups = _density_groups(points, cfg)
    ids, sizes = np.unique(groups[groups >= 0], return_counts=True)
    body_ids = ids[sizes >= cfg.body_share * n]
    body = np.isin(groups, body_ids)
    if body.sum() < cfg.k_min + 1:  # no dense body at all: cluster everyone
        body = np.ones(n, dtype=bool)
    outlier_ids = [
        g for g, s in zip(ids.tolist(), sizes.tolist(), strict=True) if g not in body_ids and s >= cfg.min_group
    ]

    k, scores, body_labels, centres = _cluster_body(points[body], cfg)
    all_centres = [centres] + [points[groups == g].mean(axis=0, keepdims=True) for g in outlier_ids]
    centre_matrix = np.vstack(all_centres)
    labels = np.empty(n, dtype=np.int64)
    labels[body] = body_labels
    for position, g in enumerate(outlier_ids):
        labels[groups == g] = k + position
    rest = ~body & ~np.isin(groups, outlier_ids)
    if rest.any():  # noise and tiny groups: the nearest centroid
        d = ((points[rest][:, None, :] - centre_matrix[None, :, :]) ** 2).sum(axis=2)
        labels[rest] = d.argmin(axis=1)
    outlier_flags = [False] * k + [True] * len(outlier_ids)
    # drop segments nobody ended up in, keeping label codes dense
    used = np.unique(labels)
    remap = np.full(len(outlier_flags), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    labels = remap[labels]
    flags = [outlier_flags[u] for u in used.tolist()]
    return Segmentation(
        list(table.actors),
        labels,
        _describe(z, labels, flags, table),
        k,
        scores,
        set_aside=int((~body).sum()),
        method=cfg.method,
        pca_components=int(pca.n_components_),
    )


def _describe(z: np.ndarray, labels: np.ndarray, outlier_flags: Sequence[bool], table: ProfileTable) -> list[Segment]:
    """Centroids, z-scores and names of the segments ``labels`` codes."""
    counts = np.bincount(labels, minlength=len(outlier_flags))
    raw = np.column_stack([table.values[f] for f in CENTROID_FEATURES])
    centroids = [
        dict(zip(CENTROID_FEATURES, raw[labels == s].mean(axis=0).tolist(), strict=True))
        for s in range(len(outlier_flags))
    ]
    zs = [
        dict(zip(SEGMENT_FEATURES, z[labels == s].mean(axis=0).tolist(), strict=True))
        for s in range(len(outlier_flags))
    ]
    names = name_segments(centroids, zs)
    return [
        Segment(
            name=name,
            size=int(counts[s]),
            centroid={f: round(v, 6) for f, v in centroids[s].items()},
            z={f: round(v, 4) for f, v in zs[s].items()},
            rule=rule,
            outlier_group=outlier_flags[s],
        )
        for s, (name, rule) in enumerate(names)
    ]


# -- from the log, to the graph -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogSegmentation:
    """A segmentation of the event log's window ``[as_of_ms - window_days, as_of_ms]``, with its costs."""

    segmentation: Segmentation
    as_of_ms: int
    window_days: int
    events: int
    read_s: float
    cluster_s: float


def segment_log(
    log: EventLog, *, window_days: int, as_of_ms: int | None = None, config: SegmentConfig | None = None
) -> LogSegmentation:
    """Read the window of the log (ending at ``as_of_ms``, by default the newest logged event, so a dataset from
    the past segments like a live one), compute every actor's profile features and :func:`segment` them."""
    started = time.perf_counter()
    as_of = log.newest_ms() if as_of_ms is None else as_of_ms
    as_of = clock.now_ms() if as_of is None else as_of
    cols = log.columns(since_ms=as_of - window_days * DAY_MS, until_ms=as_of)
    table = profile_table(cols, now_ms=as_of)
    read_s = time.perf_counter() - started
    result = segment(table, config)
    return LogSegmentation(result, as_of, window_days, len(cols), read_s, time.perf_counter() - started - read_s)


def segment_records(segmentation: Segmentation) -> list[SegmentRecord]:
    """The segments as the graph keeps them (centroid over :data:`CENTROID_FEATURES`)."""
    return [
        SegmentRecord(
            name=s.name,
            size=s.size,
            centroid=tuple(s.centroid[f] for f in CENTROID_FEATURES),
            features=CENTROID_FEATURES,
            rule=s.rule,
        )
        for s in segmentation.segments
    ]


def write_segments(store: SegmentStore, segmentation: Segmentation) -> int:
    """Replace the graph's segments with ``segmentation``'s (stamped now, so the API's segment table
    reloads); the memberships written. What ``graphrec segment`` and the demo both do."""
    return store.replace_segments(
        segments=segment_records(segmentation), members=list(segmentation.members()), computed_ms=clock.now_ms()
    )
