"""What the API does after applying a batch happens for streamed events too, once: on a real broker.

On the direct path the API's pipeline attributes clicks and purchases to the recommendation lists that showed
their items (``GET /v1/feedback``) and marks the users for its trigger worker (webhooks). In stream mode
``graphrec consume`` (a real subprocess) applies the events; these tests hold that a visit (a list served,
two of its items shown, a click naming the list, a purchase naming none) gives the same feedback table
through Kafka as directly, that a trigger fires its webhook once from the API's worker, and that the same
batch accepted twice (a client's retry: the consumer reads it as duplicates, as it does a redelivery) counts
nothing twice, in the table or in the webhooks. The API and the consumer share the event log's file, as a
deployment must (README "Scale-out path").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deadlines import START_S, WAIT_S, wait_until
from fastapi.testclient import TestClient
from kafka_stream import KEY, REPO, ConsumerProcess, consumer_env, settings_for
from pydantic import SecretStr

from api.container import services_of
from api.main import create_app
from factories import event
from graphrec import clock
from graphrec.behaviour.trigger_marks import TriggerMarks
from graphrec.config import Settings
from graphrec.graph.records import InteractionDelta, ItemRecord
from tests.api.test_webhooks import Receiver
from tests.live_api import free_port

SECRET = "whsec-kafka-listeners-0123"
RULES = '[{"name": "intent", "feature": "purchase_intent", "above": 0.7}]'
APPLIED = "graphrec_consumer_events_applied_total"
DUPLICATES = "graphrec_consumer_events_duplicate_total"


def _settings(tmp_path: Path, store_dir: Path, name: str, stream: str, receiver: Receiver) -> Settings:
    return settings_for(tmp_path, store_dir, name, stream).model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(SECRET),
            "webhook_retry_s": 0.05,
            "trigger_rules": RULES,
        }
    )


def _shop(client: TestClient) -> None:
    """12 items in two categories and some shoppers, so u1 gets a list of several items."""
    services = services_of(client.app)
    store, now = services.store, clock.now_ms()
    store.upsert_items(
        [ItemRecord(f"i{j}", title=f"Item {j}", categories=(("books", "games")[j % 2],)) for j in range(12)]
    )
    deltas = [
        InteractionDelta(f"bg{b}", f"i{j}", 2.0, 1, now - 3_600_000, now - 3_600_000)
        for b in range(8)
        for j in range(b, b + 4)
    ]
    deltas += [InteractionDelta("u1", f"i{j}", 3.0, 1, now - 7_200_000, now - 7_200_000) for j in (0, 1)]
    store.upsert_interactions(deltas)
    services.catalog.refresh(store)
    services.cograph.refresh(store)


def _visit(client: TestClient, applied: Callable[[int], None]) -> list[dict[str, Any]]:
    """u1 is served a list and shown two of its items, clicks the first naming the list and buys the second
    naming none; u7 puts two items in the cart (purchase intent 0.86: the rule fires). The batch is posted
    twice (the second time every event is a duplicate); ``applied(n)`` waits for the n-th post to be applied.
    Returns the feedback table."""
    body = client.get("/v1/users/u1/recommendations", params={"k": 4}).json()
    rec, shown = body["recommendation_id"], [d["item_id"] for d in body["data"]]
    assert rec and len(shown) >= 2, body
    seen = client.post("/v1/impressions", json={"recommendation_id": rec, "user_id": "u1", "item_ids": shown[:2]})
    assert seen.status_code == 202, seen.text
    now = clock.now_ms()  # after the impression: an unnamed purchase is attributed to a list shown before it
    batch = [
        {
            **event("l-click", user_id="u1", item_id=shown[0], type="click", ts=now),
            "context": {"recommendation_id": rec},
        },
        event("l-buy", user_id="u1", item_id=shown[1], type="purchase", ts=now),
        event("l-cart1", user_id="u7", item_id="i3", type="add_to_cart", ts=now),
        event("l-cart2", user_id="u7", item_id="i4", type="add_to_cart", ts=now),
    ]
    for n in (1, 2):
        response = client.post("/v1/events", json={"events": batch})
        assert response.status_code == 202, response.text
        applied(n)
    table: list[dict[str, Any]] = client.get("/v1/feedback").json()["data"]
    return table


def _webhooks(receiver: Receiver) -> list[tuple[str, str]]:
    return [(p["rule"], p["user_id"]) for p in (json.loads(body) for _, body in receiver.delivered())]


def test_streamed_events_are_attributed_and_trigger_webhooks_once_as_on_the_direct_path(
    kafka_broker: str, store_dir: Path, tmp_path: Path
) -> None:
    direct_hook, stream_hook = Receiver(fail_first=0), Receiver(fail_first=0)
    try:
        direct = _settings(tmp_path, store_dir, "listen-direct", "", direct_hook)
        with TestClient(create_app(direct), headers={"X-API-Key": KEY}) as client:
            _shop(client)
            expected = _visit(client, lambda n: None)
            wait_until(lambda: _webhooks(direct_hook), what="the direct path's webhook")
        assert sum(r["impressions"] for r in expected) == 2
        assert sum(r["clicks"] for r in expected) == 1 and sum(r["purchases"] for r in expected) == 1
        assert _webhooks(direct_hook) == [("intent", "u7")]

        stream = f"kafka://{kafka_broker}/events-{uuid.uuid4().hex[:8]}"
        streamed = _settings(tmp_path, store_dir, "listen-stream", stream, stream_hook)
        env = consumer_env(tmp_path, store_dir, "listen-stream", stream) | {
            "GRAPHREC_EVENT_LOG": str(streamed.event_log_file),  # the API's file: served lists, impressions
            "GRAPHREC_API_KEYS": KEY,  # the erasure tombstones' key is derived from them: the API's
            "GRAPHREC_WEBHOOK_URL": stream_hook.url,  # triggers on: the consumer marks users for the API
            "GRAPHREC_WEBHOOK_SECRET": SECRET,
        }
        consumer = ConsumerProcess(env, tmp_path / "consumer.log", batch_size=50, metrics_port=free_port())
        marks = TriggerMarks(streamed.event_log_file)

        def applied(n: int) -> None:
            name, count = (APPLIED, 4) if n == 1 else (DUPLICATES, 4)

            def done() -> bool:
                assert consumer.alive(), f"graphrec consume exited; its log ends:\n{consumer.tail()}"
                return consumer.metric(name) == count

            wait_until(done, what=f"the consumer to apply post {n}", timeout_s=START_S, interval_s=0.2)

        try:
            with TestClient(create_app(streamed), headers={"X-API-Key": KEY}) as client:
                _shop(client)
                table = _visit(client, applied)
                wait_until(lambda: _webhooks(stream_hook), what="the webhook of the streamed carts")
                # the duplicates marked u1 and u7 again: once the API's worker evaluated them, nothing more fired
                wait_until(lambda: marks.pending(limit=10) == [], what="the trigger marks evaluated")
                triggers = services_of(client.app).triggers
                assert triggers is not None and len(triggers.outbox.rows()) == 1
        finally:
            consumer.stop()
    finally:
        direct_hook.close()
        stream_hook.close()
    assert table == expected  # impressions 2, clicks 1, purchases 1, per model version, arm, source, segment
    assert _webhooks(stream_hook) == [("intent", "u7")]
    totals = consumer.totals()
    assert totals["applied"] == 4 and totals["duplicates"] == 4 and totals["dead_letters"] == 0


def test_graphrec_topics_creates_the_events_and_dead_letter_topics_once(kafka_broker: str, tmp_path: Path) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    env = {"GRAPHREC_EVENT_STREAM": f"kafka://{kafka_broker}/{topic}", "GRAPHREC_DATA_DIR": str(tmp_path)}

    def run() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "graphrec", "topics", "--partitions", "2"],
            cwd=REPO,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=START_S,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert run() == [f"{topic}: created", f"{topic}.dlq: created"]
    assert run() == [f"{topic}: exists", f"{topic}.dlq: exists"]
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": kafka_broker}).list_topics(timeout=WAIT_S).topics
    assert len(topics[topic].partitions) == 2 and len(topics[f"{topic}.dlq"].partitions) == 2
