"""``graphrec segment`` end to end on the real embedded store: generate, import (store + event log), segment,
and the segments are in the graph; a second run replaces the first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import SEGMENTATION_META_KEY


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("segment-cli")
    env = {
        "GRAPHREC_DATA_DIR": str(root),
        "GRAPHREC_GRAPH_URI": f"embedded:{root / 'store'}",
        "GRAPHREC_FALKORDB_GRAPH": "segments",
        "GRAPHREC_EVENT_LOG": str(root / "events.sqlite"),
    }
    holder = FalkorDBStore.embedded(root / "store", graph="segments", die_with_parent=True)
    runner = CliRunner()
    events = root / "events.csv"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert runner.invoke(app, ["generate", "-n", "20000", "--seed", "3", "-o", str(events)]).exit_code == 0
        result = runner.invoke(app, ["import", "--format", "events", str(events)])
        assert result.exit_code == 0, result.output
    yield events.with_name("events.users.csv"), env
    holder.close()


def test_segment_writes_named_segments_to_the_graph(
    imported: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    truth, env = imported
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(app, ["segment", "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    assert "adjusted Rand index" in result.output and "deciders" in result.output
    store = FalkorDBStore.embedded(Path(env["GRAPHREC_GRAPH_URI"].removeprefix("embedded:")), graph="segments")
    try:
        segments = store.segments()
        names = {s.name for s in segments}
        assert {"regulars", "deciders", "browsers", "enthusiasts"} <= names
        members = dict(m for page in store.iter_segment_members() for m in page)
        users = store.counts().users
        assert len(members) == users == sum(s.size for s in segments)
        first = store.get_meta(key=SEGMENTATION_META_KEY)
        deciders = next(s for s in segments if s.name == "deciders")
        assert deciders.centroid[deciders.features.index("purchase_per_session")] > 0.5

        again = CliRunner().invoke(app, ["segment", "--json"])
        assert again.exit_code == 0, again.output
        report = json.loads(again.output)
        assert report["memberships_written"] == users and report["k"] == 4
        assert {s["name"] for s in report["segments"]} == names
        assert int(store.get_meta(key=SEGMENTATION_META_KEY) or 0) > int(first or 0)
        assert dict(m for page in store.iter_segment_members() for m in page) == members, "same log, same segments"
    finally:
        store.close()


def test_segment_options_are_checked(imported: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    _, env = imported
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for args, hint in (
        (["--method", "ward"], "--method"),
        (["--k-min", "6", "--k-max", "3"], "--k-min"),
        (["--as-of", "yesterday"], "--as-of"),
    ):
        result = CliRunner().invoke(app, ["segment", "--dry-run", *args])
        assert result.exit_code == 2 and hint in result.output, result.output
    dry = CliRunner().invoke(app, ["segment", "--dry-run", "--as-of", "2026-10-01", "--window-days", "7", "--json"])
    assert dry.exit_code == 0 and json.loads(dry.output)["memberships_written"] == 0
