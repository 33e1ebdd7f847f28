"""Recommendation/item/model endpoints without a published model, and their 4xx answers (status AND detail)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.container import services_of
from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.records import InteractionDelta, ItemRecord
from tests.api.conftest import API_KEY

NOW = clock.now_ms()


@pytest.fixture
def rec_client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    s = settings.model_copy(update={"model_dir": tmp_path / "models"})  # no model published
    with TestClient(create_app(s), headers={"X-API-Key": API_KEY}) as c:
        services = services_of(c.app)
        store = services.store
        store.clear()
        store.upsert_items(
            [ItemRecord(f"i{j}", title=f"Item {j}", categories=("books" if j % 2 else "games",)) for j in range(6)]
        )
        deltas = [
            InteractionDelta(f"u{u}", f"i{j}", 1.0 + j, 1, NOW - 1000 * j, NOW - 1000 * j)
            for u in range(4)
            for j in range(6)
            if (u + j) % 3
        ]
        store.upsert_interactions(deltas)
        services.catalog.refresh(store)
        yield c


def test_unknown_user_gets_popular_flagged(rec_client: TestClient) -> None:
    r = rec_client.get("/v1/users/nobody/recommendations", params={"k": 3, "explain": "true"})
    assert r.status_code == 200
    body = r.json()
    assert body["cold_start"] is True and body["degraded"] is True and body["model_version"] is None
    assert body["count"] == 3 and {d["source"] for d in body["data"]} == {"popular"}
    assert body["data"][0]["score"] == 1.0 and body["data"][0]["reasons"] == ["trending right now"]
    assert body["data"][0]["title"].startswith("Item ")


def test_graph_only_results_without_a_model(rec_client: TestClient) -> None:
    r = rec_client.get("/v1/users/u0/recommendations", params={"explain": "true"})
    assert r.status_code == 200
    body = r.json()
    assert body["degraded"] is True and body["cold_start"] is False and body["personalised_from"] == "graph"
    seen = {e["item_id"] for e in rec_client.get("/v1/users/u0/interactions").json()["data"]}
    assert body["count"] > 0 and not seen & {d["item_id"] for d in body["data"]}
    assert all(d["source"] == "graph" for d in body["data"])
    assert "also interacted with this" in body["data"][0]["reasons"][0]
    assert "'Item " in body["data"][0]["reasons"][0]


def test_category_filter_and_popular_by_category(rec_client: TestClient) -> None:
    r = rec_client.get("/v1/items/popular", params={"category": "books", "k": 10})
    assert r.status_code == 200
    assert r.json()["count"] > 0 and all(int(d["item_id"][1:]) % 2 for d in r.json()["data"])
    r = rec_client.get("/v1/users/nobody/recommendations", params={"category": "games"})
    assert all(int(d["item_id"][1:]) % 2 == 0 for d in r.json()["data"])


def test_similar_items_from_the_graph(rec_client: TestClient) -> None:
    r = rec_client.get("/v1/items/i1/similar", params={"k": 3, "explain": "true"})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] > 0 and "i1" not in {d["item_id"] for d in body["data"]}
    assert body["data"][0]["reasons"] == ["users who interacted with 'Item 1' also interacted with this"]


def test_model_endpoint_without_a_model(rec_client: TestClient) -> None:
    assert rec_client.get("/v1/model").json()["loaded"] is False
    assert rec_client.get("/readyz").json()["checks"]["model"] == "none published"


@pytest.mark.parametrize(
    ("path", "params", "code", "detail"),
    [
        ("/v1/items/nope/similar", {}, 404, "unknown item 'nope'"),
        (
            "/v1/users/u0/recommendations",
            {"k": 0},
            422,
            [{"index": None, "field": "k", "reason": "Input should be greater than or equal to 1"}],
        ),
        (
            "/v1/users/u0/recommendations",
            {"k": 101},
            422,
            [{"index": None, "field": "k", "reason": "Input should be less than or equal to 100"}],
        ),
        (
            "/v1/users/u0/recommendations",
            {"category": "cars"},
            422,
            [{"index": None, "field": "category", "reason": "unknown category 'cars'"}],
        ),
        (
            "/v1/items/popular",
            {"category": "cars"},
            422,
            [{"index": None, "field": "category", "reason": "unknown category 'cars'"}],
        ),
        (
            "/v1/users/u0/recommendations",
            {"diversity": 2},
            422,
            [{"index": None, "field": "diversity", "reason": "Input should be less than or equal to 1"}],
        ),
    ],
)
def test_clear_client_errors(
    rec_client: TestClient, path: str, params: dict[str, object], code: int, detail: object
) -> None:
    r = rec_client.get(path, params=params)
    assert r.status_code == code
    assert r.json()["detail"] == detail


def test_read_endpoints_need_a_key_when_keys_are_configured(rec_client: TestClient) -> None:
    r = rec_client.get("/v1/users/u0/recommendations", headers={"X-API-Key": ""})
    assert r.status_code == 401
    assert r.json()["detail"] == "missing X-API-Key header: this endpoint needs an API key"
