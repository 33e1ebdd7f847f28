"""Pagination cursors outlive key changes: the secret is kept under the data directory (or configured),
never derived from the API keys, and a rotated secret's cursors stay valid while it is named previous."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.cursors import CURSOR_SECRET_FILE, load_or_create_secret
from api.main import create_app
from graphrec.config import Settings
from tests.api.conftest import API_KEY


def _first_cursor(settings: Settings) -> str:
    with TestClient(create_app(settings), headers={"X-API-Key": API_KEY}) as c:
        items = [{"item_id": f"c{k}", "title": f"Item {k}"} for k in range(5)]
        assert c.put("/v1/items", json={"items": items}).status_code == 200
        page = c.get("/v1/items", params={"limit": 2}).json()
    cursor: str = page["next_cursor"]
    assert cursor
    return cursor


def _second_page(settings: Settings, cursor: str) -> tuple[int, object]:
    with TestClient(create_app(settings), headers={"X-API-Key": API_KEY}) as c:
        r = c.get("/v1/items", params={"limit": 2, "cursor": cursor})
    return r.status_code, r.json()


def test_adding_an_api_key_keeps_outstanding_cursors_valid(settings: Settings) -> None:
    cursor = _first_cursor(settings)
    status, body = _second_page(settings.model_copy(update={"api_keys": f"{settings.api_keys}, a-new-key"}), cursor)
    assert status == 200, body
    status, body = _second_page(settings.model_copy(update={"api_keys": f"{API_KEY}, rotated-other-key"}), cursor)
    assert status == 200, body
    secret = settings.data_dir / CURSOR_SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_a_rotated_cursor_secret_is_honoured_while_named_previous(settings: Settings) -> None:
    old, new = SecretStr("old-cursor-secret"), SecretStr("new-cursor-secret")
    cursor = _first_cursor(settings.model_copy(update={"cursor_secret": old}))
    rotating = settings.model_copy(update={"cursor_secret": new, "cursor_secret_previous": old})
    assert _second_page(rotating, cursor)[0] == 200
    status, body = _second_page(settings.model_copy(update={"cursor_secret": new}), cursor)
    assert (status, body) == (
        422,
        {
            "detail": [
                {
                    "index": None,
                    "field": "cursor",
                    "reason": "the cursor was altered or was not issued by this API (use next_cursor as it came)",
                }
            ]
        },
    )


def test_workers_starting_together_share_one_generated_secret(tmp_path: Path) -> None:
    path = tmp_path / "data" / CURSOR_SECRET_FILE
    barrier = Barrier(8)

    def start() -> str:
        barrier.wait(timeout=10)
        return load_or_create_secret(path)

    with ThreadPoolExecutor(8) as pool:
        secrets = [f.result(timeout=30) for f in [pool.submit(start) for _ in range(8)]]
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 32
    assert load_or_create_secret(path) == secrets[0]  # and the next start reads it back
    assert sorted(p.name for p in path.parent.iterdir()) == [CURSOR_SECRET_FILE]  # no temporary left
