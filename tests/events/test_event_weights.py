"""Weights with hand-computed expected values: every event type, value caps, decay, policy change + reweigh."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from factories import DAY_MS, delta
from graphrec import clock
from graphrec.clock import decay_weights, decayed_weight
from graphrec.event_types import EVENT_TYPES
from graphrec.events.cleaning import robust_dwell_cap, update_dwell_cap
from graphrec.events.pipeline import EventPipeline
from graphrec.events.policy import (
    DWELL_CAP_META_KEY,
    POLICY_VERSION_META_KEY,
    PolicyError,
    load_policy,
    policy_weigher,
)
from graphrec.events.reweigh import reweigh
from graphrec.events.schema import validate_events
from graphrec.graph.falkordb_store import FalkorDBStore

NOW = clock.now_ms()


def ingest(
    store: FalkorDBStore, raw: list[dict[str, Any]], *, policy_path: Path | None = None, burst_ms: int = 0
) -> None:
    pipeline = EventPipeline(store, load_policy(policy_path), burst_window_ms=burst_ms)
    for k, r in enumerate(raw):
        r.setdefault("event_id", f"e{k}")
        r.setdefault("user_id", "u")
        r.setdefault("timestamp", NOW - 1000 + k)
    pipeline.ingest(validate_events(raw, now_ms=NOW, skew_ms=0))


def weights(store: FalkorDBStore, user: str = "u") -> dict[str, float]:
    return {e.item_id: e.weight for e in store.user_interactions(user_id=user, limit=100)}


# (type, value, expected weight under the packaged policy), each worked out by hand from policy.toml
CASES = [
    ("view", None, 0.5),
    ("hover", None, 0.1),
    ("scroll", 0.5, 0.1 + 0.6 * 0.5),  # 0.4
    ("click", None, 1.0),
    ("dwell", 60.0, 0.5 * 60 / 120),  # 0.25
    ("add_to_cart", None, 3.0),
    ("purchase", None, 5.0),
    ("rating", 5.0, 3.0 * (5 - 3) / 2),  # +3.0
    ("rating", 4.0, 3.0 * (4 - 3) / 2),  # +1.5
    ("rating", 1.0, 3.0 * (1 - 3) / 2),  # -3.0
    ("like", None, 2.0),
    ("share", None, 2.5),
    ("video_play", 120.0, 0.5 + 0.5 * 120 / 240),  # 0.75
    ("dislike", None, -4.0),
]


def test_each_event_type_weight(store: FalkorDBStore) -> None:
    ingest(
        store,
        [
            {"item_id": f"i{k}", "type": t, **({"value": v} if v is not None else {})}
            for k, (t, v, _) in enumerate(CASES)
        ],
    )
    got = weights(store)
    assert got == pytest.approx({f"i{k}": w for k, (_, _, w) in enumerate(CASES)})
    # active > passive, negative lowers
    policy = load_policy()
    assert (
        policy.event_weight("purchase")
        > policy.event_weight("add_to_cart")
        > policy.event_weight("click")
        > policy.event_weight("scroll", 1.0)
        > 0
        > policy.event_weight("dislike")
    )


def test_events_on_one_edge_add_up_and_dislike_lowers(store: FalkorDBStore) -> None:
    ingest(
        store,
        [
            {"item_id": "a", "type": "click"},
            {"item_id": "a", "type": "add_to_cart"},
            {"item_id": "a", "type": "dwell", "value": 240.0},
            {"item_id": "a", "type": "dislike"},
        ],
    )
    e = store.user_interactions(user_id="u")[0]
    assert e.weight == pytest.approx(1.0 + 3.0 + 0.5 * 240 / 120 - 4.0)  # 1.0
    assert (e.count, dict(e.type_counts)) == (4, {"click": 1, "add_to_cart": 1, "dwell": 1, "dislike": 1})
    assert dict(e.value_sums) == {"dwell": pytest.approx(240.0)}


def test_static_and_store_dwell_caps_and_video_cap(store: FalkorDBStore, tmp_path: Path) -> None:
    ingest(
        store,
        [
            {"item_id": "d", "type": "dwell", "value": 5000.0},
            {"item_id": "v", "type": "video_play", "value": 5000.0},
        ],
    )
    e = {x.item_id: x for x in store.user_interactions(user_id="u")}
    assert e["d"].weight == pytest.approx(0.5 * 600 / 120)  # clipped at the static 600 s
    assert e["d"].value_sums["dwell"] == pytest.approx(600.0)  # the sum holds capped seconds
    assert e["v"].weight == pytest.approx(0.5 + 0.5 * 1200 / 240)  # clipped at 1200 s
    # A store-wide cap in (:Meta) wins over the static one.
    store.set_meta(key=DWELL_CAP_META_KEY, value="90.0")
    ingest(store, [{"event_id": "x", "user_id": "w", "item_id": "d", "type": "dwell", "value": 5000.0}])
    assert weights(store, "w")["d"] == pytest.approx(0.5 * 90 / 120)


def test_robust_dwell_cap_is_q3_plus_3_iqr() -> None:
    policy = load_policy()
    values = np.arange(1, 201, dtype=float)  # Q1 = 50.75, Q3 = 150.25 (linear percentiles)
    assert robust_dwell_cap(values, policy) == pytest.approx(150.25 + 3 * 99.5)
    with_outliers = np.concatenate([values, [80_000.0] * 5])  # a few huge outliers barely move it
    assert robust_dwell_cap(with_outliers, policy) < 500
    assert robust_dwell_cap(values[:50], policy) == 600.0  # too few samples: the static cap
    assert robust_dwell_cap(np.full(300, 1.0), policy) == 30.0  # clamped to min_cap_s


def test_update_dwell_cap_from_store_means(store: FalkorDBStore) -> None:
    store.upsert_interactions(
        [delta(f"u{k}", "i", 1.0, types={"dwell": 2}, sums={"dwell": 2.0 * (k + 1)}, count=2) for k in range(200)]
    )
    cap = update_dwell_cap(store, load_policy())
    assert cap == pytest.approx(150.25 + 3 * 99.5)  # per-edge means are 1..200
    assert float(store.get_meta(key=DWELL_CAP_META_KEY) or 0) == pytest.approx(cap)


def test_decay_is_the_same_formula_everywhere(store: FalkorDBStore) -> None:
    assert decayed_weight(4.0, NOW - 60 * DAY_MS, now_ms=NOW, half_life_days=30) == pytest.approx(1.0)
    assert decayed_weight(4.0, NOW + DAY_MS, now_ms=NOW, half_life_days=30) == 4.0  # future: no boost
    np.testing.assert_allclose(
        decay_weights(np.array([4.0]), np.array([NOW - 60 * DAY_MS]), now_ms=NOW, half_life_days=30), [1.0]
    )
    # The traversal decays the seed edge with the same half-life: purchase (5) 30 days ago -> 2.5.
    ingest(
        store,
        [
            {"user_id": "me", "item_id": "a", "type": "purchase", "timestamp": NOW - 30 * DAY_MS},
            {"user_id": "v", "item_id": "a", "type": "click"},
            {"user_id": "v", "item_id": "c", "type": "click"},
        ],
    )
    got = store.co_interaction_candidates_for_user(user_id="me", now_ms=NOW, half_life_days=30)
    assert [(c.item_id, c.score) for c in got] == [("c", pytest.approx(2.5 * 1.0 / math.sqrt(2 * 1)))]
    assert store.user_interactions(user_id="me")[0].weight == pytest.approx(5.0)  # stored undecayed


def test_policy_change_and_reweigh(store: FalkorDBStore, tmp_path: Path) -> None:
    ingest(
        store,
        [
            {"item_id": "a", "type": "click"},
            {"item_id": "a", "type": "click"},
            {"item_id": "a", "type": "dwell", "value": 60.0},
            {"item_id": "b", "type": "rating", "value": 5.0},
            {"item_id": "c", "type": "scroll", "value": 0.5},
        ],
    )
    # an imported edge whose per-type counts do not account for all of its events
    store.upsert_interactions([delta("legacy", "x", 9.0, types={"view": 1}, count=3)])
    assert weights(store) == pytest.approx({"a": 2.25, "b": 3.0, "c": 0.4})
    text = (Path(__file__).parents[2] / "src/graphrec/events/policy.toml").read_text()
    text = (
        text.replace('version = "2026.1"', 'version = "test-2"')
        .replace("click = 1.0", "click = 2.0")
        .replace("per_unit = 0.5\nunit_s = 120.0", "per_unit = 1.0\nunit_s = 120.0")
        .replace("scale = 3.0", "scale = 1.0")
    )
    path = tmp_path / "policy.toml"
    path.write_text(text)
    new = load_policy(path)
    report = reweigh(store, new, page_size=100)
    assert (report.edges, report.updated, report.skipped) == (4, 3, 1)
    # a: 2 clicks * 2.0 + dwell 1.0 * 60/120;  b: 1.0 * (5-3)/2;  c: 0.1 + 0.6 * 0.5 (unchanged)
    assert weights(store) == pytest.approx({"a": 4.5, "b": 1.0, "c": 0.4})
    assert weights(store, "legacy") == pytest.approx({"x": 9.0})  # kept: cannot be recomputed
    assert store.get_meta(key=POLICY_VERSION_META_KEY) == "test-2"
    # New events under the new policy add up consistently with the reweighed edge.
    ingest(store, [{"event_id": "later", "item_id": "a", "type": "click"}], policy_path=path)
    assert weights(store)["a"] == pytest.approx(6.5)
    assert reweigh(store, new).updated == 3 and weights(store)["a"] == pytest.approx(6.5)


def test_repeated_events_on_one_edge_saturate_at_the_policy_cap(store: FalkorDBStore, tmp_path: Path) -> None:
    # 6 purchases (30) of one item, 6 dislikes (-24) of another: the weight stops at the cap, 20, both ways
    assert load_policy().weight_cap == 20.0
    ingest(store, [{"item_id": i, "type": t} for i, t in (("a", "purchase"), ("b", "dislike")) for _ in range(6)])
    assert weights(store) == {"a": 20.0, "b": -20.0}
    # a reweigh under a lower cap saturates the recomputed sums at it
    text = (Path(__file__).parents[2] / "src/graphrec/events/policy.toml").read_text()
    path = tmp_path / "policy.toml"
    path.write_text(text.replace("max_weight = 20.0", "max_weight = 8.0"))
    assert reweigh(store, load_policy(path)).updated == 2
    assert weights(store) == {"a": 8.0, "b": -8.0}
    # a file import carries the cap too
    assert policy_weigher(load_policy(path)).weight_cap == 8.0


def test_bad_policy_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "x"\n[base]\nclick = 1.0\n')
    with pytest.raises(PolicyError, match="base weights missing for event types: add_to_cart"):
        load_policy(bad)
    bad.write_text("version = ")
    with pytest.raises(PolicyError, match="is not valid TOML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="cannot read weighting policy"):
        load_policy(tmp_path / "missing.toml")
    good = (Path(__file__).parents[2] / "src/graphrec/events/policy.toml").read_text()
    bad.write_text(good.replace("max_weight = 20.0", "max_weight = 0.0"))
    with pytest.raises(PolicyError, match="saturation.max_weight: Input should be greater than 0"):
        load_policy(bad)


def test_vectorised_weigher_for_importers_matches_the_per_event_formula() -> None:
    policy = load_policy()
    types = [t for t, _, _ in CASES] + ["dwell", "video_play"]
    values = [np.nan if v is None else v for _, v, _ in CASES] + [5000.0, 5000.0]
    codes = np.array([EVENT_TYPES.index(t) for t in types])
    got = policy_weigher(policy)(codes, np.array(values))
    expected = [w for _, _, w in CASES] + [0.5 * 600 / 120, 0.5 + 0.5 * 1200 / 240]  # capped like live events
    np.testing.assert_allclose(got, expected)


def test_docs_worked_example(store: FalkorDBStore) -> None:
    """docs/events.md section 2: the numbers there are these."""
    t = NOW - 600_000
    pipeline = EventPipeline(store, load_policy(), burst_window_ms=1_000)
    raw = [
        ("view", None, 0),
        ("scroll", 0.8, 5_000),
        ("dwell", 5400.0, 10_000),
        ("click", None, 20_000),
        ("click", None, 20_300),
        ("add_to_cart", None, 30_000),
        ("rating", 4.0, 400_000),
    ]
    events = [
        {
            "event_id": f"w{k}",
            "user_id": "u",
            "item_id": "sku-9",
            "type": ty,
            "timestamp": t + dt,
            **({"value": v} if v is not None else {}),
        }
        for k, (ty, v, dt) in enumerate(raw)
    ]
    report = pipeline.ingest(validate_events(events, now_ms=NOW, skew_ms=0))
    assert (report.applied, report.collapsed) == (6, 1)
    e = store.user_interactions(user_id="u")[0]
    assert (e.weight, e.count) == (pytest.approx(9.08), 6)
    assert decayed_weight(e.weight, e.last_ts, now_ms=e.last_ts + 30 * DAY_MS, half_life_days=30) == (
        pytest.approx(4.54)
    )


def test_the_scalar_decay_is_the_vector_decay_floor_included() -> None:
    """One rule in two shapes: an ancient edge keeps its sign and the smallest normal float32 in both."""
    ages = [0, 30 * DAY_MS, 10_000 * DAY_MS]  # the last decays to 0.5 ** 333: below float32's range
    for weight in (2.0, -1.0, 0.0):
        vector = decay_weights(
            np.full(len(ages), weight), np.array([NOW - a for a in ages]), now_ms=NOW, half_life_days=30
        )
        scalar = [decayed_weight(weight, NOW - a, now_ms=NOW, half_life_days=30) for a in ages]
        assert np.allclose(vector, np.array(scalar, dtype=np.float32), rtol=1e-6, atol=0)
        assert all(np.sign(s) == np.sign(weight) for s in scalar)
