"""Profile features as documented in graphrec.behaviour.profiles, on hand-made logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphrec.behaviour.profiles import FEATURES, build_profile, profile_table
from graphrec.clock import DAY_MS
from graphrec.events.log import BOT, EventLog, LoggedEvent

NOW = 1_790_000_000_000
MIN = 60_000


def _log(tmp_path: Path, rows: list[LoggedEvent]) -> EventLog:
    log = EventLog(tmp_path / "log.sqlite")
    log.append(rows)
    return log


def test_sessions_split_on_a_new_session_id_or_thirty_idle_minutes(tmp_path: Path) -> None:
    rows = [
        LoggedEvent("u", "1", "a", "view", NOW - 100 * MIN, session_id="s1"),
        LoggedEvent("u", "2", "b", "click", NOW - 95 * MIN, session_id="s1"),  # same session, 5 min later
        LoggedEvent("u", "3", "c", "view", NOW - 94 * MIN, session_id="s2"),  # new id: new session
        LoggedEvent("u", "4", "c", "purchase", NOW - 10 * MIN, session_id="s2"),
    ]  # 84 idle minutes: new
    p = build_profile("u", _log(tmp_path, rows).columns(), now_ms=NOW)
    assert p.sessions == 3 and p.events == 4
    assert p.session_events == round(4 / 3, 4)
    assert abs(p.session_seconds - (5 * 60) / 3) < 1e-3
    assert p.active_ratio == 0.5 and p.purchase_per_session == round(1 / 3, 4)
    assert abs(p.recency_days - 10 / 1440) < 1e-4


def test_engagement_weighs_active_events_fully_and_decays_by_half_every_seven_days(tmp_path: Path) -> None:
    rows = [
        LoggedEvent("u", "1", "a", "click", NOW),
        LoggedEvent("u", "2", "a", "view", NOW),
        LoggedEvent("u", "3", "a", "click", NOW - 7 * DAY_MS),
    ]
    p = build_profile("u", _log(tmp_path, rows).columns(), now_ms=NOW)
    assert abs(p.engagement - (1 + 0.25 + 0.5)) < 1e-6 and p.engagement_level == "low"
    busy = [LoggedEvent("v", str(k), "a", "purchase", NOW - k * MIN) for k in range(12)]
    assert build_profile("v", _log(tmp_path / "b", busy).columns(), now_ms=NOW).engagement_level == "high"


def test_categories_devices_trend_values_and_bot_share(tmp_path: Path) -> None:
    rows = [
        LoggedEvent("u", "1", "book1", "view", NOW - 1 * DAY_MS, device="mobile"),
        LoggedEvent("u", "2", "book2", "dwell", NOW - 2 * DAY_MS, 30.0, device="mobile"),
        LoggedEvent("u", "3", "pan", "scroll", NOW - 9 * DAY_MS, 0.8, device="desktop"),
        LoggedEvent("u", "4", "pan", "view", NOW - 10 * DAY_MS, flag=BOT),
    ]
    cats = {"book1": ["Books"], "book2": ["Books"], "pan": ["Cooking", "Home"]}
    p = build_profile("u", _log(tmp_path, rows).columns(), now_ms=NOW, item_categories=cats)
    assert [c for c, _ in p.preferred_categories][0] == "Books"
    assert abs(sum(s for _, s in p.preferred_categories) - 1.0) < 0.01
    assert p.device_mix == {"desktop": round(1 / 3, 4), "mobile": round(2 / 3, 4)}
    assert p.trend["view"] == {"last_7d": 1, "previous_7d": 1, "change": 0.0}
    assert p.trend["scroll"] == {"last_7d": 0, "previous_7d": 1, "change": -1.0}
    assert p.mean_dwell_s == 30.0 and p.mean_scroll_depth == 0.8 and p.bot_share == 0.25


def test_an_unknown_user_has_an_empty_profile_and_the_table_has_every_feature(tmp_path: Path) -> None:
    log = _log(tmp_path, [LoggedEvent("u", "1", "a", "view", NOW), LoggedEvent("w", "1", "a", "click", NOW)])
    assert build_profile("nobody", log.columns(), now_ms=NOW).events == 0
    table = profile_table(log.columns(), now_ms=NOW)
    m = table.matrix()
    assert table.actors == ["u", "w"] and m.shape == (2, len(FEATURES)) and np.isfinite(m).all()
    assert table.values["active_ratio"].tolist() == [0.0, 1.0]
