"""The OpenAPI document is valid 3.1, every reference resolves, and it says what the API does:
error statuses in one shape, ids with their rule, timestamps as text or epoch ms."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from api.main import create_app
from graphrec.config import Settings
from graphrec.ids import ID_JSON_SCHEMA


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {v for k, v in node.items() if k == "$ref"} | {r for v in node.values() for r in refs(v)}
    if isinstance(node, list):
        return {r for v in node for r in refs(v)}
    return set()


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    dangling = []
    for ref in refs(doc):
        try:
            resolve(doc, ref)
        except KeyError:
            dangling.append(ref)
    assert dangling == []
    assert not any("$defs" in ref for ref in refs(doc))


def test_every_v1_route_documents_its_errors_in_one_shape(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        if not path.startswith("/v1/"):
            continue
        codes = set(op["responses"])
        assert {"401", "429", "503"} <= codes, (method, path, codes)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in codes, (method, path)
            assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorListPublic"
            }, (method, path)
        for code in ("429", "503"):
            assert "Retry-After" in op["responses"][code]["headers"], (method, path, code)
        if op.get("requestBody"):
            assert "400" in codes, (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's default 422 shape is not ours


def test_the_event_body_is_a_component_and_timestamps_may_be_text(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EventsCreate"}
    event = doc["components"]["schemas"]["EventIn"]
    types = {alt.get("type") for alt in event["properties"]["timestamp"]["anyOf"]}
    assert types == {"string", "integer"}
    assert event["properties"]["event_id"]["pattern"] == ID_JSON_SCHEMA["pattern"]
    assert set(doc["paths"]["/v1/events"]["post"]["responses"]) >= {"202", "403", "413", "415"}


def test_path_ids_carry_the_id_rule(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        for param in op.get("parameters", []):
            if param["in"] == "path":
                assert param["schema"]["pattern"] == ID_JSON_SCHEMA["pattern"], (method, path)


def test_a_users_route_422_has_the_documented_shape(client: TestClient) -> None:
    r = client.get("/v1/users/a%20/interactions")
    assert r.status_code == 422
    assert r.json() == {"detail": [{"index": None, "field": "user_id", "reason": r.json()["detail"][0]["reason"]}]}
    assert "whitespace" in r.json()["detail"][0]["reason"]
    # Ids the router cannot split (a '/' or a newline) still reach the id rule: 422, not a bare 404.
    for bad in ("a%2Fb", "%0Aa", "a/b"):
        r = client.delete(f"/v1/users/{bad}")
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "user_id", (bad, r.text)
