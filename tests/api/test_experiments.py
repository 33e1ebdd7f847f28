"""The feedback loop over the real app and store: recommendation ids, impressions, attribution, and an
A/B experiment whose deliberately worse arm (trending items only) loses, significantly, after simulated
visits of users whose tastes are known."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.container import Services, services_of
from api.main import create_app
from graphrec import clock
from graphrec.behaviour.experiments import Arm, Experiment, two_proportion_p, wilson
from graphrec.cli import app as cli
from graphrec.config import Settings
from graphrec.graph.records import InteractionDelta, ItemRecord
from graphrec.serving.experiments import read_experiment, write_experiment
from tests.api.conftest import API_KEY

NOW = clock.now_ms()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "experiments"
CATEGORIES = ("books", "games", "garden", "music")
USERS = 100


def _category(item: str) -> str:
    return CATEGORIES[int(item[1:]) % len(CATEGORIES)]


@pytest.fixture
def shop(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """60 items in 4 categories; each user has a known favourite category and a history in it; a few
    blockbusters (heavy interactions from background users) make 'trending' a poor guess for anyone."""
    s = settings.model_copy(update={"model_dir": tmp_path / "models", "events_max_per_minute": 10_000})
    with TestClient(create_app(s), headers={"X-API-Key": API_KEY}) as c:
        services = services_of(c.app)
        store = services.store
        store.clear()
        store.upsert_items(
            [ItemRecord(f"i{j}", title=f"Item {j}", categories=(_category(f"i{j}"),)) for j in range(60)]
        )
        rng = random.Random(7)
        deltas = []
        for u in range(USERS):
            favourite = u % len(CATEGORIES)
            mine = [j for j in range(60) if j % len(CATEGORIES) == favourite]
            deltas += [
                InteractionDelta(f"u{u}", f"i{j}", 3.0, 1, NOW - 3_600_000, NOW - 3_600_000)
                for j in rng.sample(mine, 6)
            ]
        deltas += [
            InteractionDelta(f"bg{b}", f"i{j}", 8.0, 1, NOW - 60_000, NOW - 60_000)
            for b in range(40)
            for j in (0, 1, 2, 3, 5, 6, 7)
        ]  # blockbusters across categories
        store.upsert_interactions(deltas)
        services.catalog.refresh(store)
        services.cograph.refresh(store)
        assert services.experiments is not None
        services.experiments.refresh()  # started before the store was emptied: forget an older test's split
        yield c


def _start(services: Services, treatment: Arm, share: float = 0.5) -> Experiment:
    experiment = Experiment(id="ab-1", control=Arm(name="graph"), treatment=treatment, share=share, started_ms=NOW)
    write_experiment(services.store, experiment)
    assert services.experiments is not None and services.experiments.refresh()
    return experiment


def test_the_worse_arm_loses_significantly_after_simulated_visits(shop: TestClient) -> None:
    services = services_of(shop.app)
    experiment = _start(services, Arm(name="trending", strategy="popular"))
    rng = random.Random(11)
    arms_seen: dict[str, set[str]] = {}
    for visit in range(2):
        for u in range(USERS):
            user = f"u{u}"
            body = shop.get(f"/v1/users/{user}/recommendations", params={"k": 8}).json()
            assert body["experiment"] == "ab-1" and body["arm"] == experiment.arm_of(user).name
            arms_seen.setdefault(user, set()).add(body["arm"])
            shown = [d["item_id"] for d in body["data"]]
            r = shop.post(
                "/v1/impressions",
                json={"recommendation_id": body["recommendation_id"], "user_id": user, "item_ids": shown},
            )
            assert r.status_code == 202 and r.json()["recorded"] == len(shown)
            favourite = CATEGORIES[u % len(CATEGORIES)]
            events = []
            for item in shown:  # the known taste: clicks on the favourite category, rarely anything else
                if rng.random() < (0.35 if _category(item) == favourite else 0.03):
                    events.append(
                        {
                            "event_id": f"c-{visit}-{u}-{item}",
                            "user_id": user,
                            "item_id": item,
                            "type": "click",
                            "timestamp": clock.now_ms() - 500,
                            "context": {"recommendation_id": body["recommendation_id"]},
                        }
                    )
            if events:
                assert shop.post("/v1/events", json={"events": events}).status_code == 202
    assert all(len(arms) == 1 for arms in arms_seen.values())  # stable assignment across visits
    report = shop.get("/v1/experiments").json()["data"][0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the report, for whoever reads the run (git-ignored)
    (ARTIFACTS / "simulation-report.json").write_text(json.dumps(report, indent=2))
    arms = {a["name"]: a for a in report["arms"]}
    assert arms["graph"]["shown"] + arms["trending"]["shown"] == 2 * USERS
    assert 0.3 < arms["trending"]["served"] / (2 * USERS) < 0.7
    ctr = next(c for c in report["comparisons"] if c["metric"] == "ctr")
    assert ctr["better"] == "graph" and ctr["p_value"] < 0.05, report
    assert arms["graph"]["ctr"]["low"] > arms["trending"]["ctr"]["high"] or ctr["p_value"] < 0.01
    table = shop.get("/v1/feedback").json()["data"]
    assert {r["arm"] for r in table} == {"graph", "trending"} and sum(r["clicks"] for r in table) > 0
    assert {r["source"] for r in table if r["arm"] == "trending"} == {"popular"}


def test_impressions_are_checked_and_unlabelled_clicks_are_attributed_within_the_window(shop: TestClient) -> None:
    body = shop.get("/v1/users/u1/recommendations", params={"k": 4}).json()
    rec, shown = body["recommendation_id"], [d["item_id"] for d in body["data"]]
    assert rec and body["experiment"] is None
    stranger = shop.post("/v1/impressions", json={"recommendation_id": rec, "user_id": "u2", "item_ids": shown})
    assert stranger.status_code == 422 and "recommendation_id" in stranger.text
    wrong = shop.post("/v1/impressions", json={"recommendation_id": rec, "user_id": "u1", "item_ids": ["i999"]})
    assert wrong.status_code == 422 and "i999" in wrong.text
    both = shop.post(
        "/v1/impressions", json={"recommendation_id": rec, "user_id": "u1", "anonymous_id": "a", "item_ids": shown}
    )
    assert both.status_code == 422
    assert (
        shop.post(
            "/v1/impressions", json={"recommendation_id": rec, "user_id": "u1", "item_ids": shown[:2]}
        ).status_code
        == 202
    )
    # a purchase with no recommendation id: attributed to the list that showed the item
    sent = shop.post(
        "/v1/events",
        json={
            "events": [
                {
                    "event_id": "buy-1",
                    "user_id": "u1",
                    "item_id": shown[0],
                    "type": "purchase",
                    "timestamp": clock.now_ms(),
                }
            ]
        },
    )
    assert sent.status_code == 202
    rows = shop.get("/v1/feedback").json()["data"]
    assert sum(r["purchases"] for r in rows) == 1 and sum(r["impressions"] for r in rows) == 2
    assert shop.delete("/v1/users/u1").status_code == 204  # erasure takes the feedback rows too
    assert shop.get("/v1/feedback").json()["data"] == []


def test_statistics_and_the_stable_split() -> None:
    low, high = wilson(0, 10)
    assert low == 0.0 and 0.2 < high < 0.35  # not the normal interval's degenerate [0, 0]
    assert two_proportion_p(50, 100, 50, 100) == 1.0 and two_proportion_p(60, 100, 30, 100) < 0.001
    exp = Experiment(id="e", control=Arm(name="a"), treatment=Arm(name="b"), share=0.1, started_ms=0)
    share = sum(exp.arm_of(f"user-{n}").name == "b" for n in range(20_000)) / 20_000
    assert abs(share - 0.1) < 0.01 and exp.arm_of("user-1") == exp.arm_of("user-1")
    with pytest.raises(ValueError, match="different names"):
        Experiment(id="e", control=Arm(name="a"), treatment=Arm(name="a"), share=0.5, started_ms=0)


def test_experiment_commands_record_the_split_in_the_store(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, shop: TestClient
) -> None:
    monkeypatch.setenv("GRAPHREC_GRAPH_URI", settings.graph_uri)
    monkeypatch.setenv("GRAPHREC_FALKORDB_GRAPH", settings.falkordb_graph)
    runner = CliRunner()
    bad = runner.invoke(cli, ["experiment", "start", "--share", "150%"])
    assert bad.exit_code == 2 and "between 0 and 1" in bad.output
    missing = runner.invoke(cli, ["publish", "no-such-version", "--canary", "10%"])
    assert missing.exit_code == 2 and "no-such-version" in missing.output
    started = runner.invoke(cli, ["experiment", "start", "--id", "weak", "--strategy", "popular", "--share", "30%"])
    assert started.exit_code == 0, started.output
    store = services_of(shop.app).store
    recorded = read_experiment(store)
    assert recorded is not None and recorded.id == "weak" and recorded.share == 0.3
    assert recorded.treatment.strategy == "popular"
    assert runner.invoke(cli, ["experiment", "stop"]).exit_code == 0 and read_experiment(store) is None
