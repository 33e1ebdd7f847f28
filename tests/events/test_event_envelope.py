"""The Kafka wire format (``graphrec.events.envelope``) and the stream settings: unit tests, no broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factories import event
from graphrec import clock
from graphrec.config import Settings, parse_event_stream
from graphrec.events.clients import TRUSTED
from graphrec.events.envelope import SCHEMA_VERSION, Undeliverable, decode, encode
from graphrec.events.schema import validate_events


def test_an_event_survives_the_envelope_keyed_by_its_actor() -> None:
    now = clock.now_ms()
    raw = [event("e1", anonymous_id="v9", item_id="i1", type="dwell", value=42.5, ts=now - 5_000)]
    (original,) = validate_events(raw, now_ms=now, skew_ms=0)
    key, value = encode(original, client=TRUSTED, accepted_ms=now)
    assert key == b"anon:v9"
    assert json.loads(value)["schema"] == SCHEMA_VERSION
    read = decode(value, skew_ms=0)
    assert read.event == original and read.client == TRUSTED and read.accepted_ms == now


def test_a_backlog_is_validated_against_the_moment_the_api_accepted_it() -> None:
    accepted = clock.now_ms() - 3_600_000  # an hour of lag: the event was not "in the future" then
    (original,) = validate_events(
        [event("e1", user_id="u1", item_id="i1", type="view", ts=accepted + 1_000)], now_ms=accepted, skew_ms=300_000
    )
    _, value = encode(original, client="c", accepted_ms=accepted)
    assert decode(value, skew_ms=300_000).event == original


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (None, "empty message"),
        (json.dumps({"schema": 3, "event": {}}).encode(), "unknown schema version 3"),
        (json.dumps({"schema": True}).encode(), "unknown schema version True"),
        (json.dumps({"schema": 1, "accepted_ms": 1, "client": "", "event": {"x": 1}}).encode(), "invalid event"),
    ],
)
def test_a_message_that_can_never_apply_says_why(value: bytes | None, reason: str) -> None:
    with pytest.raises(Undeliverable, match=reason):
        decode(value, skew_ms=0)


def test_purchase_details_and_custom_events_travel_in_schema_2_and_never_in_schema_1() -> None:
    now = clock.now_ms()
    purchase = {
        **event("p1", user_id="u1", item_id="i1", type="purchase", ts=now - 1_000),
        "price": 19.99,
        "currency": "EUR",
        "quantity": 2,
        "order_id": "o-7",
    }
    custom = {
        "event_id": "c1",
        "anonymous_id": "v1",
        "type": "custom",
        "name": "wishlist_add",
        "properties": {"list": "summer", "position": 3},
        "timestamp": now - 1_000,
    }
    for original in validate_events([purchase, custom], now_ms=now, skew_ms=0):
        _, value = encode(original, client=TRUSTED, accepted_ms=now)
        body = json.loads(value)
        assert body["schema"] == SCHEMA_VERSION == 2
        assert decode(value, skew_ms=0).event == original
        body["schema"] = 1  # what an old producer could never have written
        with pytest.raises(Undeliverable, match="schema 1: invalid event: .*came with schema 2"):
            decode(json.dumps(body).encode(), skew_ms=0)
    (plain,) = validate_events(
        [event("v1", user_id="u1", item_id="i1", type="view", ts=now - 1_000)], now_ms=now, skew_ms=0
    )
    _, value = encode(plain, client=TRUSTED, accepted_ms=now)
    old = {**json.loads(value), "schema": 1}  # a message an older API produced still reads
    assert decode(json.dumps(old).encode(), skew_ms=0).event == plain


def test_the_stream_uri_is_validated() -> None:
    location = parse_event_stream("kafka://k1:9092,k2:9092/shop.events")
    assert (location.bootstrap, location.topic, location.dead_letter_topic) == (
        "k1:9092,k2:9092",
        "shop.events",
        "shop.events.dlq",
    )
    for bad in ("kafka://k1:9092", "http://k1:9092/t", "kafka://k1/t", "kafka://k1:9092/a b", "kafka://:1/t"):
        with pytest.raises(ValueError):
            parse_event_stream(bad)
    with pytest.raises(ValueError, match="event stream"):
        Settings(event_stream="kafka://nowhere")
    assert Settings().event_stream_location is None  # the default: the API writes the store itself


def test_tls_and_sasl_settings_reach_librdkafka(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SASL_USERNAME"):
        Settings(event_stream="kafka://k:9093/t", kafka_security_protocol="sasl_ssl")
    settings = Settings(
        event_stream="kafka://k:9093/t",
        kafka_security_protocol="sasl_ssl",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="graphrec",
        kafka_sasl_password="s3cret",
        kafka_ssl_ca_location=tmp_path / "ca.pem",
    )
    assert settings.kafka_client_config() == {
        "bootstrap.servers": "k:9093",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "graphrec",
        "sasl.password": "s3cret",
        "ssl.ca.location": str(tmp_path / "ca.pem"),
    }
