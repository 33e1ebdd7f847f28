"""The next-category chain (graphrec.behaviour.next_action) against hand-computed cases and generated sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphrec.behaviour.next_action import NextActionModel, fit_next_action
from graphrec.data.importer import log_events
from graphrec.data.readers import read_catalogue, read_dataset
from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.events.log import EventLog, LoggedEvent
from graphrec.serving.next_action_holder import NextActionHolder

T0 = 1_790_000_000_000
MIN = 60_000
CATS = {"a1": ["A"], "a2": ["A"], "b1": ["B"], "c1": ["C"], "ab": ["A", "B"], "none": []}


def _log(tmp_path: Path, sessions: list[list[str]], *, actor: str = "u") -> EventLog:
    """One event per item, a minute apart; each list is a session (its own session id)."""
    log = EventLog(tmp_path / "log.sqlite")
    rows, t = [], T0
    for s, items in enumerate(sessions):
        for item in items:
            rows.append(LoggedEvent(actor, f"e{len(rows)}", item, "view", t, session_id=f"s{s}"))
            t += MIN
    log.append(rows)
    return log


def test_the_chain_matches_a_hand_computed_toy_case(tmp_path: Path) -> None:
    # sessions A B | A B | A C | B A: transitions A->B 2, A->C 1, B->A 1; visits A 4, B 3, C 1 of 8 steps
    log = _log(tmp_path, [["a1", "b1"], ["a2", "b1"], ["a1", "c1"], ["b1", "a1"]])
    model = fit_next_action(log.columns(), CATS, smoothing=1.0)
    assert model.categories == ("A", "B", "C")
    np.testing.assert_allclose(model.counts, [[0, 2, 1], [1, 0, 0], [0, 0, 0]])
    popularity = np.array([5, 4, 2]) / 11  # (visits + 1) / (steps + categories)
    np.testing.assert_allclose(model.popularity, popularity)
    # P(j | A) = (C[A, j] + 1 * pi_j) / (3 + 1)
    np.testing.assert_allclose(model.probabilities("A"), [5 / 44, 26 / 44, 13 / 44])
    np.testing.assert_allclose(model.probabilities("B"), [(1 + 5 / 11) / 2, (4 / 11) / 2, (2 / 11) / 2])
    np.testing.assert_allclose(model.probabilities("C"), popularity, err_msg="never left: the popularity")
    for c in model.categories:
        assert model.probabilities(c).sum() == pytest.approx(1.0)
    assert (model.steps, model.transitions, model.sessions) == (8, 4.0, 4)
    after_a = model.predict(["A"], k=2)
    assert after_a.basis == "transitions" and [c for c, _ in after_a.categories] == ["B", "C"]
    assert after_a.categories[0][1] == pytest.approx(26 / 44)
    after_c = model.predict(["C"], k=3)
    assert after_c.basis == "popularity" and [c for c, _ in after_c.categories] == ["A", "B", "C"]
    assert model.predict(["Zzz"]).basis == "popularity" and model.predict([]).basis == "popularity"


def test_without_smoothing_rows_are_the_observed_frequencies(tmp_path: Path) -> None:
    log = _log(tmp_path, [["a1", "b1"], ["a2", "b1"], ["a1", "c1"]])
    model = fit_next_action(log.columns(), CATS, smoothing=0.0)
    np.testing.assert_allclose(model.probabilities("A"), [0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(model.probabilities("B"), model.popularity)
    with pytest.raises(ValueError, match="smoothing"):
        fit_next_action(log.columns(), CATS, smoothing=-1.0)


def test_steps_merge_repeats_skip_uncategorised_items_and_stop_at_session_ends(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "log.sqlite")
    log.append(
        [
            LoggedEvent("u", "1", "a1", "view", T0),
            LoggedEvent("u", "2", "a1", "click", T0 + MIN),  # one visit
            LoggedEvent("u", "3", "none", "view", T0 + 2 * MIN),  # no category: skipped, a1 a1 merge again
            LoggedEvent("u", "4", "a1", "dwell", T0 + 3 * MIN, 5.0),
            LoggedEvent("u", "5", "ab", "view", T0 + 4 * MIN),  # A|B: half a transition A->A, half A->B
            LoggedEvent("u", "6", "c1", "view", T0 + 60 * MIN),  # 56 idle minutes: a new session, no ab->c1
            LoggedEvent("v", "7", "b1", "view", T0 + 61 * MIN),  # another user: no c1->b1
        ]
    )
    model = fit_next_action(log.columns(), CATS, smoothing=1.0)
    np.testing.assert_allclose(model.counts, [[0.5, 0.5, 0], [0, 0, 0], [0, 0, 0]])
    assert (model.steps, model.sessions) == (4, 3)
    mixed = model.predict(["A", "B"], k=3)  # the mix of the rows of A and B
    expected = (model.probabilities("A") + model.probabilities("B")) / 2
    assert dict(mixed.categories) == pytest.approx(dict(zip(model.categories, expected, strict=True)))
    assert mixed.basis == "transitions"


def test_an_empty_log_gives_an_empty_model(tmp_path: Path) -> None:
    model = fit_next_action(EventLog(tmp_path / "log.sqlite").columns(), CATS)
    assert model.categories == () and model.predict(["A"]).categories == []
    assert NextActionModel().predict(["A"]).basis == "popularity"


def test_generated_sessions_keep_to_their_topic(tmp_path: Path) -> None:
    """The generator's sessions stay on their topic 60% of the time: the chain's diagonal says so."""
    generate(SyntheticSpec(interactions=30_000, seed=4), tmp_path / "ev.csv")
    log = EventLog(tmp_path / "log.sqlite")
    log_events(log, read_dataset("events", tmp_path / "ev.csv").events, key="k")
    categories = {i.id: list(i.categories) for i in read_catalogue(tmp_path / "ev.items.csv")}
    holder = NextActionHolder(window_days=90, smoothing=1.0)
    model = holder.refresh(log, categories)
    assert len(model.categories) == 20 and model.transitions > 4_000 and model.sessions > 3_000
    rows = np.array([model.probabilities(c) for c in model.categories])
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    assert np.diag(rows).mean() > 0.5 > rows.mean() * 5
    assert holder.refresh(log, {}).categories == (), "no catalogue, no categories"


def test_the_holder_leaves_bot_flagged_events_out_and_ends_the_window_at_the_newest_event(tmp_path: Path) -> None:
    from graphrec.events.log import BOT

    log = EventLog(tmp_path / "log.sqlite")
    log.append(
        [
            LoggedEvent("u", "1", "a1", "view", T0),
            LoggedEvent("u", "2", "b1", "view", T0 + MIN),
            LoggedEvent("bot", "3", "b1", "view", T0 + 2 * MIN, flag=BOT),
            LoggedEvent("bot", "4", "c1", "view", T0 + 3 * MIN, flag=BOT),
            LoggedEvent("old", "5", "c1", "view", T0 - 40 * 86_400_000),
            LoggedEvent("old", "6", "a1", "view", T0 - 40 * 86_400_000 + MIN),
        ]
    )
    model = NextActionHolder(window_days=30, smoothing=1.0).refresh(log, CATS)
    np.testing.assert_allclose(model.counts, [[0, 1], [0, 0]])  # A -> B only: no bot, nothing 40 days old
    assert model.categories == ("A", "B") and model.fitted_ms > T0
