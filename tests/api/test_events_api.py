"""POST /v1/events: statuses AND details for good and bad requests; bad ones change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.container import services_of
from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.port import GraphStore

NOW = clock.now_ms()


def ev(k: int = 0, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{k}",
        "user_id": "u1",
        "item_id": f"i{k}",
        "type": "click",
        "timestamp": NOW - 60_000 + k * 2_000,
        **kw,
    }


def post(client: TestClient, events: list[dict[str, Any]], **kw: Any) -> Any:
    return client.post("/v1/events", json={"events": events}, **kw)


def edges(store: GraphStore) -> dict[tuple[str, str], tuple[float, int]]:
    return {(e.user_id, e.item_id): (e.weight, e.count) for page in store.iter_interaction_aggregates() for e in page}


def test_accepts_a_batch_and_replay_is_reported_as_duplicates(client: TestClient, api_store: GraphStore) -> None:
    batch = [
        ev(0),
        ev(1, type="purchase"),
        ev(2, type="dwell", value=120.0, item_id="i0"),
        ev(3, user_id=None, anonymous_id="cookie"),
    ]
    r = post(client, batch)
    assert r.status_code == 202
    assert r.json() == {
        "received": 4,
        "applied": 4,
        "custom": 0,
        "duplicates": 0,
        "collapsed": 0,
        "flagged": 0,
        "duplicate_ids": [],
        "flagged_actors": [],
        "unknown_items": [],  # GRAPHREC_UNKNOWN_ITEMS=accept (the default) looks nothing up
    }
    before = edges(api_store)
    assert before[("u1", "i0")] == (pytest.approx(1.0 + 0.5), 2)
    r = post(client, batch)
    assert r.status_code == 202
    assert (r.json()["applied"], r.json()["duplicates"], r.json()["duplicate_ids"]) == (
        0,
        4,
        ["e0", "e1", "e2", "e3"],
    )
    assert edges(api_store) == before


def test_acknowledged_event_is_visible_at_once(
    client: TestClient, api_store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post(client, [ev(0, user_id="other", item_id="a"), ev(1, user_id="other", item_id="b")]).status_code == 202
    order: list[str] = []
    write = api_store.upsert_interactions_once

    def recorded(*args: Any, **kwargs: Any) -> Any:
        result = write(*args, **kwargs)
        order.append("written")
        return result

    monkeypatch.setattr(api_store, "upsert_interactions_once", recorded)
    assert post(client, [ev(9, user_id="me", item_id="a", type="like")]).status_code == 202
    order.append("acknowledged")
    assert order == ["written", "acknowledged"]  # the 202 comes after the store write, never before it
    # ...so the very next reads, with no wait or retry, see the event (no cache or queue in between)
    r = client.get("/v1/users/me/interactions")
    got = api_store.co_interaction_candidates_for_user(user_id="me", now_ms=clock.now_ms(), half_life_days=30)
    assert r.status_code == 200 and [d["item_id"] for d in r.json()["data"]] == ["a"]
    assert r.json()["data"][0]["weight"] == pytest.approx(2.0)
    assert [c.item_id for c in got] == ["b"]


@pytest.mark.parametrize(
    ("kwargs", "status", "detail"),
    [
        pytest.param(
            {"content": b'{"events": [', "headers": {"Content-Type": "application/json"}},
            400,
            "malformed JSON: Expecting value at line 1 column 13",
            id="malformed-json",
        ),
        pytest.param(
            {"content": b'{"events": "\xc3\x28"}', "headers": {"Content-Type": "application/json"}},
            400,
            "malformed JSON: the body is not UTF-8",
            id="not-utf8",
        ),
        pytest.param(
            {"json": [ev()]},
            422,
            [{"index": None, "field": "events", "reason": 'expected a JSON object {"events": [...]}'}],
            id="bare-list",
        ),
        pytest.param(
            {"json": {"events": []}},
            422,
            [{"index": None, "field": "events", "reason": "the batch is empty; send at least one event"}],
            id="empty-batch",
        ),
        pytest.param(
            {"json": {"events": [ev()], "extra": 1}},
            422,
            [{"index": None, "field": "extra", "reason": "unexpected field; the body holds only 'events'"}],
            id="extra-field",
        ),
        pytest.param(
            {"json": {"events": "nope"}},
            422,
            [{"index": None, "field": "events", "reason": "expected a JSON array of events"}],
            id="events-not-list",
        ),
        pytest.param(
            {"json": {"events": [ev(0), ev(1, type="teleport"), ev(2, event_id=7, timestamp="soon")]}},
            422,
            [
                {
                    "index": 1,
                    "field": "type",
                    "reason": "unknown event type 'teleport'; expected one of: view, "
                    "click, hover, scroll, dwell, add_to_cart, purchase, rating, like, share, video_play, dislike, "
                    "custom (an action of your own: type 'custom' with a name)",
                },
                {"index": 2, "field": "event_id", "reason": "Input should be a valid string"},
                {"index": 2, "field": "timestamp", "reason": "'soon' is not an ISO-8601 timestamp"},
            ],
            id="wrong-types-and-unknown-type",
        ),
        pytest.param(
            {"json": {"events": [ev(0, type="rating", value=9), ev(1, type="scroll", value=-0.1)]}},
            422,
            [
                {"index": 0, "field": "value", "reason": "rating value 9.0 is outside [1.0, 5.0] (stars)"},
                {
                    "index": 1,
                    "field": "value",
                    "reason": "scroll value -0.1 is outside [0.0, 1.0] (depth fraction)",
                },
            ],
            id="out-of-range",
        ),
        pytest.param(
            {"json": {"events": [ev()]}, "headers": {"X-API-Key": ""}},
            401,
            "missing X-API-Key header: this endpoint needs an API key",
            id="missing-key",
        ),
        pytest.param(
            {"json": {"events": [ev()]}, "headers": {"X-API-Key": "wrong"}},
            401,
            "invalid API key in X-API-Key",
            id="invalid-key",
        ),
        pytest.param(
            {"json": {"events": [ev(k) for k in range(51)]}},
            413,
            "batch of 51 events exceeds the limit of 50 events per request",
            id="too-many-events",
        ),
        pytest.param(
            {
                "content": b'{"events": [' + b" " * 20_000 + b"]}",
                "headers": {"Content-Type": "application/json"},
            },
            413,
            "request body exceeds the limit of 20000 bytes; send smaller batches",
            id="oversized-body",
        ),
        pytest.param(
            {"content": b"events=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "send the batch as application/json (or text/plain JSON, as sendBeacon does)",
            id="not-json-media-type",
        ),
    ],
)
def test_bad_requests_get_status_and_detail_and_change_nothing(
    client: TestClient, api_store: GraphStore, kwargs: dict[str, Any], status: int, detail: Any
) -> None:
    r = client.post("/v1/events", **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["detail"] == detail
    assert api_store.counts().interactions == 0 and api_store.counts().users == 0
    assert post(client, [ev(0)]).json()["applied"] == 1  # e0 was not recorded as seen either


def test_timestamps_beyond_the_clock_skew_are_refused(client: TestClient, api_store: GraphStore) -> None:
    r = post(client, [ev(0), ev(1, timestamp=clock.now_ms() + 3_600_000)])
    assert r.status_code == 422
    [item] = r.json()["detail"]
    assert (item["index"], item["field"]) == (1, "timestamp")
    assert item["reason"].startswith("timestamp is 3")  # about 3600 s
    assert item["reason"].endswith(" s in the future, beyond the clock-skew tolerance of 300.0 s")
    assert api_store.counts().interactions == 0


def test_streamed_body_over_the_limit_is_cut_off(client: TestClient, api_store: GraphStore) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        yield b'{"events": ['
        for _ in range(100):
            yield b" " * 1_000

    r = client.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"] == "request body exceeds the limit of 20000 bytes; send smaller batches"
    assert api_store.counts().interactions == 0


def test_events_of_users_without_consent_are_refused_whole(client: TestClient, api_store: GraphStore) -> None:
    assert client.put("/v1/users/u1/consent", json={"consent": False}).status_code == 200
    r = post(client, [ev(0, user_id="u2"), ev(1), ev(2)])
    assert r.status_code == 403
    assert r.json()["detail"] == [
        {
            "index": 1,
            "field": "user_id",
            "reason": "user 'u1' withdrew consent; their events are not recorded",
        },
        {
            "index": 2,
            "field": "user_id",
            "reason": "user 'u1' withdrew consent; their events are not recorded",
        },
    ]
    assert api_store.counts().interactions == 0
    assert client.put("/v1/users/u1/consent", json={"consent": True}).json() == {
        "consent": True,
        "user_id": "u1",
    }
    assert post(client, [ev(1)]).json()["applied"] == 1


def test_an_event_id_reused_with_other_content_is_a_409_naming_its_index(
    client: TestClient, api_store: GraphStore
) -> None:
    # in one batch: e0 again for another item
    r = post(client, [ev(0), ev(1), ev(0, item_id="other")])
    assert r.status_code == 409
    assert r.json()["detail"] == [
        {
            "index": 2,
            "field": "event_id",
            "reason": "event_id 'e0' is also event 0 of this batch, with different content; a retry must "
            "resend the same event, a new event needs a new event_id",
        }
    ]
    assert api_store.counts().interactions == 0
    # across batches: the identical retry is a duplicate, other content under e1 is refused whole
    assert post(client, [ev(0), ev(1)]).json()["applied"] == 2
    before = edges(api_store)
    r = post(client, [ev(0), ev(1)])
    assert (r.status_code, r.json()["duplicates"]) == (202, 2)
    r = post(client, [ev(5), ev(1, type="purchase")])
    assert r.status_code == 409
    assert r.json()["detail"] == [
        {
            "index": 1,
            "field": "event_id",
            "reason": "event_id 'e1' was already recorded for this actor with different content; a retry must "
            "resend the same event, a new event needs a new event_id",
        }
    ]
    assert edges(api_store) == before
    assert post(client, [ev(5)]).json()["applied"] == 1  # e5 was not recorded by the refused batch


def test_openapi_lists_the_409_of_events(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/v1/events"]["post"]["responses"]
    assert responses["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorListPublic"}


def test_rate_limit_per_key_answers_429_with_retry_after(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_per_s": 0.5, "rate_limit_burst": 2})
    with TestClient(create_app(limited)) as c:
        services_of(c.app).store.clear()
        ok = [
            c.post("/v1/events", json={"events": [ev(k)]}, headers={"X-API-Key": "test-key-1"}).status_code
            for k in range(2)
        ]
        r = c.post("/v1/events", json={"events": [ev(5)]}, headers={"X-API-Key": "test-key-1"})
        other = c.post("/v1/events", json={"events": [ev(6)]}, headers={"X-API-Key": "other-key"})
    assert ok == [202, 202]
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json()["detail"] == "rate limit exceeded for this API key (0.5 requests/s); retry in 2 s"
    assert other.status_code == 202  # buckets are per key


def test_no_configured_keys_disables_writes(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"api_keys": ""}))) as c:
        r = c.post("/v1/events", json={"events": [ev()]}, headers={"X-API-Key": "anything"})
    assert r.status_code == 401
    assert r.json()["detail"] == (
        "no API keys are configured on this server (GRAPHREC_API_KEYS): routes that need a key are disabled"
    )


@pytest.mark.server_error
def test_unexpected_errors_do_not_leak(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:

        def boom(*_a: Any, **_k: Any) -> None:
            raise RuntimeError("password=hunter2 at /secret/path")

        monkeypatch.setattr(services_of(c.app).pipeline, "prepare", boom)
        r = c.post("/v1/events", json={"events": [ev()]}, headers={"X-API-Key": "test-key-1"})
    assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
    assert "hunter2" not in r.text
