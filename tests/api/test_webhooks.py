"""Trigger webhooks end to end: the real app and store, a real HTTP receiver on a loopback port that fails
at first; a rule fires once per crossing, deliveries are signed and retried, erasure forgets them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from deadlines import wait_until
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from api.container import services_of
from api.main import create_app
from factories import event
from graphrec.behaviour.triggers import parse_rules
from graphrec.config import Settings
from graphrec.events.log import connect
from graphrec.serving.webhooks import sign, verify

SECRET = "whsec-0123456789abcdef"


class Receiver:
    """A webhook endpoint: answers 500 to the first ``fail_first`` calls, then 204; keeps every call."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = 500 if len(receiver.calls) < receiver.fail_first else 204
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, code in self.calls if code == 204]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


@pytest.fixture
def hooked(settings: Settings, receiver: Receiver) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(SECRET),
            "webhook_retry_s": 0.05,
            "trigger_rules": '[{"name": "intent", "feature": "purchase_intent", "above": 0.7}]',
        }
    )
    with TestClient(create_app(configured), headers={"X-API-Key": "test-key-1"}) as c:
        services_of(c.app).store.clear()
        yield c


def _intent_active(client: TestClient) -> bool | None:
    """u1's recorded state of the "intent" rule (None: never evaluated), as the trigger worker stored it."""
    with connect(services_of(client.app).triggers.book.path) as db:  # type: ignore[union-attr]
        row = db.execute("SELECT active FROM trigger_state WHERE actor = 'u1' AND rule = 'intent'").fetchone()
    return None if row is None else bool(row[0])


def _send(client: TestClient, *specs: tuple[str, str, str]) -> None:
    r = client.post(
        "/v1/events", json={"events": [event(eid, user_id="u1", item_id=item, type=kind) for eid, item, kind in specs]}
    )
    assert r.status_code == 202, r.text


def test_a_rule_fires_once_per_crossing_with_signed_retried_deliveries(hooked: TestClient, receiver: Receiver) -> None:
    _send(hooked, ("c1", "i1", "add_to_cart"), ("c2", "i2", "add_to_cart"))  # intent 1 - e^-2 = 0.86
    wait_until(
        lambda: len(receiver.delivered()) == 1, what="the first webhook delivered", detail=lambda: receiver.calls
    )
    assert [code for _, _, code in receiver.calls] == [500, 500, 204]  # retried after two failures
    headers, body = receiver.delivered()[0]
    delivery, signature = headers["x-graphrec-delivery"], headers["x-graphrec-signature"]
    assert verify(SECRET.encode(), body, signature, delivery_id=delivery, now_s=int(time.time()))
    assert not verify(SECRET.encode(), body + b" ", signature, delivery_id=delivery, now_s=int(time.time()))
    # the delivery id is signed: the captured delivery replayed under a fresh id fails
    assert not verify(SECRET.encode(), body, signature, delivery_id=delivery + "0", now_s=int(time.time()))
    payload = json.loads(body)
    assert payload["rule"] == "intent" and payload["user_id"] == "u1" and payload["value"] > 0.7
    assert len({h["x-graphrec-delivery"] for h, _, _ in receiver.calls}) == 1  # one webhook, three tries

    outbox = services_of(hooked.app).triggers.outbox  # type: ignore[union-attr]
    _send(hooked, ("c3", "i3", "add_to_cart"))  # still above: no news
    _send(hooked, *((f"p{k}", f"i{k}", "purchase") for k in (1, 2, 3)))  # carts bought: intent falls
    # once the fall is recorded, c3 was evaluated too (before it, or with it): nothing more was queued
    wait_until(lambda: _intent_active(hooked) is False, what="the fall of u1's intent recorded")
    assert len(outbox.rows()) == 1
    _send(hooked, ("c4", "i4", "add_to_cart"), ("c5", "i5", "add_to_cart"))  # and rises again: fires again
    wait_until(
        lambda: len(receiver.delivered()) == 2, what="the second webhook delivered", detail=lambda: receiver.calls
    )

    assert hooked.delete("/v1/users/u1").status_code == 204  # erasure: the queued webhooks and states go too
    assert outbox.rows() == []


def test_signatures_refuse_tampering_and_stale_timestamps() -> None:
    body = b'{"a": 1}'
    header = sign(b"k" * 16, body, delivery_id="7", at_s=1_000)
    assert verify(b"k" * 16, body, header, delivery_id="7", now_s=1_100)
    assert not verify(b"k" * 16, body, header, delivery_id="7", now_s=1_000 + 301)  # a replay, minutes later
    assert not verify(b"k" * 16, body, header, delivery_id="8", now_s=1_100)  # replayed under a new id
    assert not verify(b"x" * 16, body, header, delivery_id="7", now_s=1_100)
    assert not verify(b"k" * 16, body, "garbage", delivery_id="7", now_s=1_100)


def test_the_signed_string_is_time_delivery_id_and_body() -> None:
    """The documented format, recomputed by hand as a receiver in any language would."""
    body = b'{"type": "trigger.fired"}'
    mac = hmac.new(b"k" * 16, b"1000.42." + body, hashlib.sha256).hexdigest()
    assert sign(b"k" * 16, body, delivery_id="42", at_s=1_000) == f"t=1000,v2={mac}"


def test_rules_and_settings_are_validated_with_their_reason() -> None:
    with pytest.raises(ValueError, match="unknown profile feature 'mood'"):
        parse_rules('[{"name": "x", "feature": "mood", "above": 1}]')
    with pytest.raises(ValueError, match="exactly one of 'above' and 'below'"):
        parse_rules('[{"name": "x", "feature": "engagement"}]')
    with pytest.raises(ValueError, match="unique"):
        parse_rules(
            '[{"name": "x", "feature": "engagement", "above": 1}, {"name": "x", "feature": "events", "below": 2}]'
        )
    with pytest.raises(ValidationError, match="GRAPHREC_WEBHOOK_SECRET"):
        Settings(webhook_url="https://crm.example/hook")
    with pytest.raises(ValidationError, match="http"):
        Settings(webhook_url="ftp://crm.example/hook", webhook_secret=SECRET)
