"""``make demo`` run twice (issue 28, point 6): the second run with unchanged data serves the version
the first trained; the demo's events reach the event log and its segments the graph, so the dashboard
has data; the next steps name CORS, and ``--origins`` says which pages may call."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrec import demo
from graphrec.config import Settings
from graphrec.events.log import EventLog
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.factory import open_store
from graphrec.graph.port import SEGMENTATION_META_KEY
from graphrec.model.pipeline import current_version

ARGS = ["--interactions", "3000", "--epochs", "2", "--no-serve"]


def test_a_rerun_reuses_the_version_and_fills_the_dashboards_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], starts_processes: None
) -> None:
    monkeypatch.setenv("GRAPHREC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"embedded:{tmp_path / 'store'}")
    try:
        demo.main(ARGS)
        first = capsys.readouterr().out
        settings = Settings()
        version = current_version(settings.models_path)
        assert version is not None
        assert "needs CORS" in first and "make demo ORIGINS=" in first
        logged = EventLog(settings.event_log_file).count()
        assert logged >= 2_900, logged  # the generated events, less the ones the cleaning refused
        with open_store(settings) as store:
            assert store.get_meta(key=SEGMENTATION_META_KEY) is not None
            assert store.segments()
        demo.main([*ARGS, "--origins", "http://localhost:5173/"])
        second = capsys.readouterr().out
        assert current_version(settings.models_path) == version
        assert sorted(p.name for p in settings.models_path.iterdir() if p.is_dir()) == [version]
        assert "Pages on http://localhost:5173 may call" in second
        assert EventLog(settings.event_log_file).count() == logged  # the import is not logged twice
        demo.main([*ARGS, "--retrain"])
        assert current_version(settings.models_path) != version
    finally:
        EmbeddedServer(tmp_path / "store").stop()
