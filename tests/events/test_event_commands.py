"""``graphrec ingest`` / ``reweigh`` / ``expire-event-ids`` against an embedded store in a temp dir."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from graphrec import clock
from graphrec.commands.events import register
from graphrec.graph.falkordb_store import FalkorDBStore

NOW = clock.now_ms()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cli-store")
    # Hold a lease for the module so every command joins one running server.
    holder = FalkorDBStore.embedded(path, graph="cli", die_with_parent=True)
    yield path
    holder.close()


@pytest.fixture
def cli(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, typer.Typer, FalkorDBStore]]:
    monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"embedded:{store_dir}")
    monkeypatch.setenv("GRAPHREC_FALKORDB_GRAPH", "cli")
    app = typer.Typer()
    register(app)
    store = FalkorDBStore.embedded(store_dir, graph="cli")
    store.clear()
    yield CliRunner(), app, store
    store.close()


def write_log(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def ev(k: int, **kw: object) -> dict[str, object]:
    return {
        "event_id": f"e{k}",
        "user_id": f"u{k % 3}",
        "item_id": f"i{k % 4}",
        "type": "click",
        "timestamp": NOW - 100_000 + k * 2_000,
        **kw,
    }


def test_ingest_replays_a_log_exactly_once(cli: tuple[CliRunner, typer.Typer, FalkorDBStore], tmp_path: Path) -> None:
    runner, app, store = cli
    log = write_log(
        tmp_path / "events.jsonl",
        [ev(k) for k in range(10)] + [""] + [ev(10, type="rating", value=5, timestamp="2025-01-01T00:00:00Z")],
    )
    result = runner.invoke(app, ["ingest", str(log), "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["applied"] == 11
    assert store.counts().interactions == 11  # (k % 3, k % 4) pairs are distinct for k < 12
    again = runner.invoke(app, ["ingest", str(log)])
    assert again.exit_code == 0 and json.loads(again.stdout)["duplicates"] == 11


def test_bad_line_fails_naming_file_line_and_reason_and_writes_nothing(
    cli: tuple[CliRunner, typer.Typer, FalkorDBStore], tmp_path: Path
) -> None:
    runner, app, store = cli
    log = write_log(tmp_path / "bad.jsonl", [ev(0), ev(1, type="teleport"), "{not json", ev(3)])
    result = runner.invoke(app, ["ingest", str(log)])
    assert result.exit_code == 1
    assert f"{log}:2: type: unknown event type 'teleport'" in result.stderr
    assert f"{log}:3: line: malformed JSON: Expecting property name enclosed in double quotes" in result.stderr
    assert store.counts().interactions == 0


def test_reweigh_and_expire_commands(cli: tuple[CliRunner, typer.Typer, FalkorDBStore], tmp_path: Path) -> None:
    runner, app, store = cli
    log = write_log(tmp_path / "events.jsonl", [ev(0), ev(1, type="purchase", item_id="i0", user_id="u0")])
    assert runner.invoke(app, ["ingest", str(log)]).exit_code == 0
    assert store.user_interactions(user_id="u0")[0].weight == pytest.approx(6.0)
    policy = (Path(__file__).parents[2] / "src/graphrec/events/policy.toml").read_text()
    new = tmp_path / "p.toml"
    new.write_text(policy.replace("purchase = 5.0", "purchase = 10.0"))
    result = runner.invoke(app, ["reweigh", "--policy", str(new), "--update-dwell-cap"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["edges"], out["updated"], out["dwell_cap_s"]) == (1, 1, 600.0)
    assert store.user_interactions(user_id="u0")[0].weight == pytest.approx(11.0)
    bad = runner.invoke(app, ["reweigh", "--policy", str(tmp_path / "nope.toml")])
    assert bad.exit_code == 1 and "cannot read weighting policy" in bad.stderr
    result = runner.invoke(app, ["expire-event-ids"], env={"GRAPHREC_EVENT_ID_RETENTION_DAYS": "0.00000001"})
    assert result.exit_code == 0 and json.loads(result.stdout)["expired"] == 2
