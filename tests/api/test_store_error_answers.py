"""Each store error type has its one HTTP answer, and none leaks the store's text.

The handlers are installed on a bare app whose routes raise what an adapter raises; which driver
error becomes which type is checked against the real stores (tests/graph/test_contract_events.py).
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from graphrec.graph.errors import BadStoreInput, NotFoundInStore, StoreConflict, StoreError, StoreUnavailable

SECRET = "MATCH (n) WHERE n.secret = 'x'"


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    raised: dict[str, StoreError] = {
        "unavailable": StoreUnavailable(SECRET),
        "conflict": StoreConflict(SECRET),
        "missing": NotFoundInStore(SECRET),
        "refused": BadStoreInput(SECRET),
    }

    @app.get("/{kind}")
    def fail(kind: str) -> None:
        raise raised[kind]

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("kind", "code"), [("unavailable", 503), ("conflict", 409), ("missing", 500), ("refused", 422)]
)
def test_store_errors_answer_by_type(client: TestClient, kind: str, code: int) -> None:
    r = client.get(f"/{kind}")
    assert r.status_code == code
    assert SECRET not in r.text
    if code == 503:
        assert r.headers["Retry-After"] == "2"
    if code == 422:
        assert r.json()["detail"] == [
            {"index": None, "field": "body", "reason": "the graph store refused the request's values"}
        ]
