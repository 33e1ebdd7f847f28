"""The synthetic generator: behavioural types written beside the data, sessions and devices in the events,
the collaborative signal kept, the same file for the same seed; and the events reader's context columns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.data.errors import InputError
from graphrec.data.importer import import_dataset
from graphrec.data.readers import read_dataset
from graphrec.data.synthetic import (
    DEFAULT_MIX,
    TYPE_NAMES,
    SyntheticSpec,
    catalogue_path,
    generate,
    parse_mix,
    read_user_types,
)
from graphrec.events.log import EventLog
from graphrec.graph.falkordb_store import FalkorDBStore


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table, dict[str, str]]:
    path = tmp_path_factory.mktemp("synthetic") / "events.csv"
    report = generate(SyntheticSpec(interactions=60_000, seed=3), path)
    assert report.events == 60_000 and report.users_path == path.with_name("events.users.csv")
    table = pacsv.read_csv(
        path, convert_options=pacsv.ConvertOptions(column_types={"user_id": pa.string(), "session_id": pa.string()})
    )
    return path, table, read_user_types(report.users_path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_user_has_a_type_written_beside_the_data_and_the_default_mix_is_mostly_regular(
    generated: tuple[Path, pa.Table, dict[str, str]],
) -> None:
    _, table, types = generated
    assert set(types.values()) == set(TYPE_NAMES)
    assert set(pc.unique(table.column("user_id")).to_pylist()) <= set(types)
    counts = {t: sum(1 for v in types.values() if v == t) for t in TYPE_NAMES}
    assert counts["regular"] / len(types) == pytest.approx(DEFAULT_MIX["regular"], abs=0.05)
    assert max(counts, key=lambda t: counts[t]) == "regular" and counts["bot"] < counts["casual"]
    assert table.column_names == ["user_id", "item_id", "event_type", "timestamp", "value", "session_id", "device"]
    assert set(pc.unique(table.column("device")).to_pylist()) == {"mobile", "desktop", "tablet"}


def _sessions(table: pa.Table) -> dict[str, np.ndarray]:
    """Per-session aggregates, vectorised: the session's user(s), its event count, span, purchases, views."""
    grouped = (
        table.append_column("purchase", pc.cast(pc.equal(table.column("event_type"), "purchase"), pa.int64()))
        .append_column("view", pc.cast(pc.equal(table.column("event_type"), "view"), pa.int64()))
        .group_by("session_id")
        .aggregate(
            [
                ("user_id", "count_distinct"),
                ("user_id", "min"),
                ("timestamp", "min"),
                ("timestamp", "max"),
                ("timestamp", "count"),
                ("purchase", "sum"),
                ("view", "sum"),
            ]
        )
    )
    return {name: grouped.column(name).to_numpy(zero_copy_only=False) for name in grouped.column_names}


def test_a_session_is_one_user_in_one_sitting_and_types_behave_as_documented(
    generated: tuple[Path, pa.Table, dict[str, str]],
) -> None:
    _, table, types = generated
    s = _sessions(table)
    assert (s["user_id_count_distinct"] == 1).all()
    gaps = s["timestamp_max"] - s["timestamp_min"]
    assert gaps.max() < 3 * 3_600_000  # a session is a sitting, not days
    kind = np.array([types[u] for u in s["user_id_min"]])
    events = s["timestamp_count"].astype(float)

    def mean(values: np.ndarray, t: str) -> float:
        return float(values[kind == t].mean())

    purchases = s["purchase_sum"].astype(float)
    assert mean(purchases, "decider") > 4 * mean(purchases, "regular") and mean(purchases, "regular") > mean(
        purchases, "browser"
    )
    assert mean(events, "browser") > 2 * mean(events, "regular") > 2 * mean(events, "casual")
    assert (s["view_sum"][kind == "bot"] == events[kind == "bot"]).all(), "bots only view"
    assert mean(events, "bot") > 30


def test_bots_view_at_regular_intervals_and_people_do_not(generated: tuple[Path, pa.Table, dict[str, str]]) -> None:
    _, table, types = generated
    ordered = table.sort_by([("session_id", "ascending"), ("timestamp", "ascending")])
    session = ordered.column("session_id").to_numpy(zero_copy_only=False)
    ts = ordered.column("timestamp").to_numpy()
    user = ordered.column("user_id").to_numpy(zero_copy_only=False)
    same = session[1:] == session[:-1]
    step = np.diff(ts)[same]
    is_bot = np.array([types[u] == "bot" for u in user[1:][same]])
    # within a bot's session every step is the bot's fixed interval of 1-3 s
    bot_steps = step[is_bot]
    assert bot_steps.min() >= 1_000 and bot_steps.max() <= 3_000
    per_session = {}
    for sid, gap in zip(session[1:][same][is_bot], bot_steps, strict=True):
        per_session.setdefault(sid, set()).add(int(gap))
    assert per_session and all(len(g) == 1 for g in per_session.values())
    assert len(np.unique(step[~is_bot])) > 100


def test_people_keep_to_their_tastes_and_bots_do_not(generated: tuple[Path, pa.Table, dict[str, str]]) -> None:
    """The collaborative signal: a person's events concentrate on few categories; a crawler's spread out."""
    path, table, types = generated
    items = pacsv.read_csv(path.with_name("events.items.csv"))
    category = dict(zip(items.column("item_id").to_pylist(), items.column("category").to_pylist(), strict=True))
    pairs = table.select(["user_id", "item_id"]).to_pylist()
    per_user: dict[str, dict[str, int]] = {}
    for row in pairs:
        cats = per_user.setdefault(row["user_id"], {})
        cats[category[row["item_id"]]] = cats.get(category[row["item_id"]], 0) + 1
    top_share = {u: max(c.values()) / sum(c.values()) for u, c in per_user.items() if sum(c.values()) >= 20}
    people = [v for u, v in top_share.items() if types[u] != "bot"]
    bots = [v for u, v in top_share.items() if types[u] == "bot"]
    assert np.median(people) > 0.4 and bots and np.median(bots) < 0.2


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a" / "ev.csv", tmp_path / "b" / "ev.csv", tmp_path / "c" / "ev.csv"
    for path, seed in ((a, 1), (b, 1), (c, 2)):
        generate(SyntheticSpec(interactions=5_000, seed=seed), path)
    assert _digest(a) == _digest(b) and _digest(a.with_name("ev.users.csv")) == _digest(b.with_name("ev.users.csv"))
    assert _digest(a) != _digest(c)


def test_the_mix_is_validated_and_may_leave_types_out(tmp_path: Path) -> None:
    assert parse_mix("regular=3, bot=1") == {"regular": 3.0, "bot": 1.0}
    for bad, reason in (
        ("regular", "TYPE=SHARE"),
        ("robot=1", "TYPE=SHARE"),
        ("bot=x", "must be a number"),
        ("bot=-1", ">= 0"),
        ("bot=0", "positive share"),
    ):
        with pytest.raises(ValueError, match=reason):
            parse_mix(bad)
    path = tmp_path / "only.csv"
    report = generate(SyntheticSpec(interactions=3_000, seed=0, mix={"regular": 1.0}), path)
    assert set(read_user_types(report.users_path).values()) == {"regular"} and report.types == {"regular": report.users}
    result = CliRunner().invoke(app, ["generate", "-n", "1000", "-o", str(tmp_path / "x.csv"), "--mix", "robot=1"])
    assert result.exit_code == 2 and "--mix" in result.output


def test_import_keeps_sessions_and_devices_in_the_event_log(store: FalkorDBStore, tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    generate(SyntheticSpec(interactions=2_000, seed=5), path)
    log = EventLog(tmp_path / "log.sqlite")
    dataset = read_dataset("events", path)
    assert dataset.files == [path, path.with_name("ev.items.csv")], "the types file is ground truth, not input"
    import_dataset(
        store, dataset, fmt="events", weigher=lambda codes, values: np.ones(len(codes)), batch_size=500, log=log
    )
    cols = log.columns()
    assert len(cols) == 2_000
    assert (cols.session >= 0).all() and sorted(cols.devices) == ["desktop", "mobile", "tablet"]
    first = pacsv.read_csv(path).slice(0, 1).to_pylist()[0]
    logged = log.user_events(first["user_id"])
    assert any(e.session_id == first["session_id"] and e.device == first["device"] for e in logged)


EVENTS = "user_id,item_id,event_type,timestamp,value,session_id,device,section\n"


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("s/1,mobile,pdp", "session_id must not contain '/'"),
        ("s\x011,mobile,pdp", "session_id must not contain control character U+0001"),
        ("s1," + "m" * 65 + ",pdp", "device is longer than 64 characters"),
        ("s1,mob\x7file,pdp", "device must not contain control characters"),
        ("x" * 257 + ",mobile,pdp", "session_id is longer than 256 characters"),
    ],
)
def test_context_columns_are_validated_with_line_and_field(tmp_path: Path, cell: str, reason: str) -> None:
    path = tmp_path / "ev.csv"
    path.write_text(EVENTS + "a,x,view,1700000000000,,s1,mobile,home\n" + f"a,y,view,1700000000001,,{cell}\n")
    with pytest.raises(InputError) as err:
        read_dataset("events", path)
    assert err.value.line == 3 and reason in err.value.reason


def test_context_cells_may_be_empty_and_are_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text(
        "user_id,item_id,event_type,timestamp,device,session_id\n"
        "a,x,view,1700000000000, tablet , s9 \nb,x,view,1700000000001,,\n"
    )
    events = read_dataset("events", path).events
    assert events.column("session_id").to_pylist() == ["s9", None]
    assert events.column("device").to_pylist() == ["tablet", None]
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,event_type,timestamp,browser\na,x,view,1700000000000,firefox\n")
    with pytest.raises(InputError, match="unexpected column.*browser.*optionally value,session_id,device,section"):
        read_dataset("events", bad)


# -- category focus (the demo storefront's tastes) ----------------------------------------------------


def top_category_share(events: Path) -> float:
    """Mean over users (10+ events) of the share of their events in their most frequent category."""
    rows = pacsv.read_csv(events)
    catalogue = pacsv.read_csv(catalogue_path(events))
    category_of = dict(zip(catalogue["item_id"].to_pylist(), catalogue["category"].to_pylist(), strict=True))
    names = sorted(set(category_of.values()))
    users, user_idx = np.unique(np.asarray(rows["user_id"].to_pylist()), return_inverse=True)
    cats = np.asarray([names.index(category_of[i]) for i in rows["item_id"].to_pylist()])
    counts = np.zeros((len(users), len(names)))
    np.add.at(counts, (user_idx, cats), 1)
    counts = counts[counts.sum(axis=1) >= 10]
    return float(np.mean(counts.max(axis=1) / counts.sum(axis=1)))


def test_category_focus_concentrates_each_users_events(tmp_path: Path) -> None:
    spec = SyntheticSpec(interactions=20_000, seed=5, categories=6)
    plain = generate(spec, tmp_path / "plain.csv")
    focused = generate(
        SyntheticSpec(interactions=20_000, seed=5, categories=6, category_focus=0.9), tmp_path / "focused.csv"
    )
    assert (plain.users, plain.items, plain.events) == (focused.users, focused.items, focused.events)
    assert catalogue_path(plain.events_path).read_bytes() == catalogue_path(focused.events_path).read_bytes()
    unfocused, concentrated = top_category_share(plain.events_path), top_category_share(focused.events_path)
    assert concentrated > 0.85 and concentrated > unfocused + 0.1, (unfocused, concentrated)


@pytest.mark.parametrize("focus", [-0.1, 1.5])
def test_focus_out_of_range_is_refused(tmp_path: Path, focus: float) -> None:
    with pytest.raises(ValueError, match="category_focus"):
        generate(SyntheticSpec(interactions=100, category_focus=focus), tmp_path / "x.csv")
