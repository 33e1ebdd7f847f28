"""The dashboard (issue 16, point 8) in real headless Chromium: Debian's chromium driven by playwright-core
(``web/e2e/dashboard.mjs``), against the real API over a real embedded store with a published model, an
experiment between the model and trending-only, and some visits that saw, clicked and skipped.

The page must refuse a publishable key, then plot with the secret key: the ingest rate, the model
version's offline metric, CTR per arm over time with the report table, and load nothing from another
host. Screenshot: ``test-artifacts/dashboard/dashboard.png`` (git-ignored)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphrec import clock, demo
from graphrec.behaviour.experiments import Arm, Experiment
from graphrec.behaviour.segments import segment_log, segment_records
from graphrec.events.log import EventLog
from graphrec.serving.experiments import write_experiment
from tests.live_api import REPO, free_port, start_api, stop_api
from tests.web.browser import CHROMIUM, run_node
from tests.web.shop import stocked_store

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "test-artifacts" / "dashboard"
SECRET = "dashboard-e2e-secret"
PUBLISHABLE = "pk_dashboard_e2e"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The API over a small shop with a published model and a running experiment; (url, model version)."""
    root = tmp_path_factory.mktemp("dashboard")
    settings, store = stocked_store(root, "dash", interactions=6_000, seed=5, categories=4, log=True)
    proc = None
    try:
        run = segment_log(EventLog(settings.event_log_file), window_days=90)
        assert store.replace_segments(
            segments=segment_records(run.segmentation),
            members=list(run.segmentation.members()),
            computed_ms=clock.now_ms(),
        )
        version = demo.train_and_publish(store, settings, epochs=3)
        write_experiment(
            store,
            Experiment(
                id="dash-ab",
                control=Arm(name="model"),
                treatment=Arm(name="trending", strategy="popular"),
                share=0.5,
                started_ms=clock.now_ms(),
            ),
        )
        port = free_port()
        proc = start_api(
            {
                "GRAPHREC_DATA_DIR": str(root),
                "GRAPHREC_GRAPH_URI": settings.graph_uri,
                "GRAPHREC_FALKORDB_GRAPH": "dash",
                "GRAPHREC_API_KEYS": SECRET,
                "GRAPHREC_PUBLISHABLE_KEYS": PUBLISHABLE,
                "GRAPHREC_PUBLISHABLE_ORIGINS": f"http://127.0.0.1:{port}",
                "GRAPHREC_EVENT_LOG": str(settings.event_log_file),
            },
            port,
            log=root / "api.log",
        )
        yield f"http://127.0.0.1:{port}", version
    finally:
        if proc is not None:
            stop_api(proc)
        store.close()


def _visits(url: str, users: list[str]) -> None:
    """Each user opens their recommendations, reports what was shown and sometimes clicks the first item."""
    rng = random.Random(1)
    with httpx.Client(base_url=url, headers={"X-API-Key": SECRET}, timeout=30) as http:
        for user in users:
            body = http.get(f"/v1/users/{user}/recommendations", params={"k": 5}).json()
            assert body["experiment"] == "dash-ab", body
            shown = [d["item_id"] for d in body["data"]]
            assert (
                http.post(
                    "/v1/impressions",
                    json={"recommendation_id": body["recommendation_id"], "user_id": user, "item_ids": shown},
                ).status_code
                == 202
            )
            if shown and rng.random() < 0.5:
                click = {
                    "event_id": f"dash-{user}",
                    "user_id": user,
                    "item_id": shown[0],
                    "type": "click",
                    "timestamp": clock.now_ms() - 100,
                    "context": {"recommendation_id": body["recommendation_id"]},
                }
                assert http.post("/v1/events", json={"events": [click]}).status_code == 202


@pytest.fixture(scope="module")
def page(api: tuple[str, str], e2e_installed: Path) -> dict[str, Any]:
    url, _ = api
    _visits(url, [f"u{n}" for n in range(40)])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    code, text = run_node(
        [
            "dashboard.mjs",
            "--base",
            url,
            "--key",
            SECRET,
            "--wrong-key",
            PUBLISHABLE,
            "--out",
            str(ARTIFACTS),
            "--chromium",
            CHROMIUM,
        ],
        cwd=e2e_installed,
        timeout_s=120,
    )
    record: dict[str, Any] = json.loads((ARTIFACTS / "dashboard.json").read_text())
    assert code == 0 and record.get("error") is None, (record.get("error"), text[-3000:])
    return record


def test_a_publishable_key_is_refused_and_nothing_comes_from_elsewhere(page: dict[str, Any]) -> None:
    assert "secret key is needed" in page["wrong_key_status"]
    # the one error the browser logs is the refused publishable key's 403 itself
    assert page["blocked"] == [] and [e for e in page["console_errors"] if "403" not in e] == []
    assert "key" not in page["panels"]["url"]  # the key never rides in the URL


def test_the_panels_plot_ingest_models_and_the_experiment(page: dict[str, Any], api: tuple[str, str]) -> None:
    panels = page["panels"]
    assert panels["ingest_paths"] >= 1 and "events in the log" in panels["total"]
    _, version = api
    bars = {b["label"].lstrip("★ "): b["value"] for b in panels["model_bars"]}
    assert version in bars and bars[version] > 0  # the published version's test Recall@20
    assert sorted(panels["ctr_series"]) == ["model", "trending"]
    assert len(panels["report_rows"]) == 2 and all(("model" in r) or ("trending" in r) for r in panels["report_rows"])
    assert len(panels["segment_bars"]) >= 2  # graphrec segment's groups, with their sizes
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
