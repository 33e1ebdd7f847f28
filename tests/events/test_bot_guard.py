"""The bot guard's sliding windows, without a store: what each rule flags and what it remembers.

The pipeline tests (test_event_pipeline.py) and the bots' integration test (test_bots.py) play the
same rules through the real store; here each rule is held to its definition on hand-made times.
"""

from __future__ import annotations

import numpy as np
import pytest

from graphrec.events.cleaning import BotGuard, BotLimits, CleanEvent, windows_over

T = 1_700_000_000_000


def _ev(k: int, actor: str, ts: int, *, item: str = "i", type: str = "click") -> CleanEvent:
    return CleanEvent(k, f"{actor}:{k}", str(k), actor, item, type, ts, None)


def _over(groups: list[int], times: list[int], in_batch: list[bool], limit: int = 3) -> list[bool]:
    held = windows_over(np.array(groups), np.array(times), np.array(in_batch), window_ms=1_000, limit=limit)
    return [bool(h) for h in held]


def test_a_window_counts_any_span_of_its_length_not_calendar_buckets() -> None:
    # 4 events within 999 ms are over 3 wherever the second's edges fall; 4 spread over 1000 ms are not
    assert _over([0] * 4, [T + 500, T + 900, T + 1_100, T + 1_499], [True] * 4) == [True, False, False, False]
    assert not any(_over([0] * 4, [T, T + 100, T + 200, T + 1_000], [True] * 4))
    assert not any(_over([0, 1, 0, 1], [T, T, T + 1, T + 1], [True] * 4))  # per group


def test_a_window_that_holds_none_of_the_batch_does_not_count() -> None:
    remembered = [T, T + 500, T + 900, T + 950]  # over the limit already, but nothing new in it
    assert not any(_over([0] * 5, [*remembered, T + 2_000], [False] * 4 + [True]))
    assert _over([0] * 5, [*remembered, T - 50], [False] * 4 + [True])[4]  # a late event joins them


def test_the_guard_remembers_only_what_can_still_matter_and_forgets_idle_actors_first() -> None:
    guard = BotGuard(
        BotLimits(max_per_minute=3, max_views_per_minute=2, max_repeats=2, repeat_window_ms=120_000), max_actors=3
    )
    guard.record(guard.check([_ev(k, "a", T + k * 1_000, item=f"i{k}") for k in range(6)]))  # 6 clicks on 6 items
    # rate: the newest 3 within a minute; repeats: each item's newest 2 within 2 minutes (all 6 here)
    assert guard._seen["a"][:, 0].tolist() == [T + k * 1_000 for k in range(6)]  # noqa: SLF001
    guard.record(guard.check([_ev(10, "a", T + 200_000)]))  # 3 minutes on: only the newest can still matter
    assert guard._seen["a"][:, 0].tolist() == [T + 200_000]  # noqa: SLF001
    for actor in ("b", "c", "d"):
        guard.record(guard.check([_ev(0, actor, T)]))
    assert len(guard) == 3 and "a" not in guard._seen  # noqa: SLF001 - the least recently seen went first
    guard.record(guard.check([_ev(1, "b", T + 1)]))
    guard.record(guard.check([_ev(0, "e", T)]))
    assert sorted(guard._seen) == ["b", "d", "e"]  # noqa: SLF001 - b was seen again: c went


def test_what_the_guard_remembers_still_flags_as_the_whole_history_would() -> None:
    limits = BotLimits(max_per_minute=5, max_views_per_minute=3, max_repeats=2, repeat_window_ms=120_000)
    guard = BotGuard(limits)
    # 2 clicks on x (at the repeat limit), 3 views (at the view limit), spread over 50 s
    guard.record(guard.check([_ev(0, "a", T, item="x"), _ev(1, "a", T + 50_000, item="x")]))
    guard.record(guard.check([_ev(2 + k, "a", T + 10_000 + k, item=f"v{k}", type="view") for k in range(3)]))
    assert guard.check([_ev(9, "a", T + 100_000, item="x")]).flagged == {"a": "repeats"}  # 3rd on x in 2 min
    assert guard.check([_ev(9, "a", T + 11_000, item="w", type="view")]).flagged == {"a": "rate"}  # 6 in 60 s
    assert guard.check([_ev(9, "a", T + 65_000, item="w", type="view")]).flagged == {"a": "views"}  # 4 in 55 s
    assert guard.check([_ev(9, "a", T + 70_001, item="w", type="view")]).flagged == {}  # the views' minute is over


def test_the_guard_names_each_flagged_actor_s_rule_and_drops_its_events() -> None:
    guard = BotGuard(BotLimits(max_per_minute=10, max_views_per_minute=5, max_repeats=3, repeat_window_ms=60_000))
    events = [
        *(_ev(k, "rater", T + k, item=f"r{k}") for k in range(11)),
        *(_ev(100 + k, "viewer", T + k, item=f"v{k}", type="view") for k in range(6)),
        *(_ev(200 + k, "repeater", T + k * 1_000) for k in range(4)),
        *(_ev(300 + k, "reader", T + k * 1_000, type="dwell") for k in range(5)),  # heartbeats: exempt
        *(_ev(400 + k, "reader", T + k * 1_000, type="scroll") for k in range(5)),
        _ev(500, "human", T),
    ]
    verdict = guard.check(events)
    assert verdict.flagged == {"rater": "rate", "repeater": "repeats", "viewer": "views"}
    assert {ev.actor for ev in verdict.kept} == {"reader", "human"}
    assert len(verdict.dropped) == 11 + 6 + 4


def test_a_guard_flags_on_what_it_recorded_kept_or_dropped() -> None:
    guard = BotGuard(BotLimits(max_per_minute=10, max_views_per_minute=5, max_repeats=3, repeat_window_ms=60_000))
    first = [_ev(k, "b", T + k, item=f"i{k}") for k in range(6)]
    assert guard.check(first).flagged == {}
    guard.record(guard.check(first))
    second = [_ev(10 + k, "b", T + 10 + k, item=f"j{k}") for k in range(5)]
    verdict = guard.check(second)
    assert verdict.flagged == {"b": "rate"} and verdict.dropped == second
    guard.record(verdict)
    assert guard.check([_ev(20, "b", T + 20, item="k")]).flagged == {"b": "rate"}  # still flooding: still flagged


@pytest.mark.parametrize("n", [1, 500])
def test_an_empty_history_and_any_batch_size_work(n: int) -> None:
    guard = BotGuard(BotLimits())
    verdict = guard.check([_ev(k, f"u{k % 7}", T + k * 997, item=f"i{k % 13}") for k in range(n)])
    assert verdict.flagged == {} and len(verdict.kept) == n
    assert guard.check([]).kept == []
