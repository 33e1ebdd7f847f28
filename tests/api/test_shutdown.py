"""Shutdown order: the store is closed only after the background upkeep's store calls have returned.

Why it matters: cancelling an asyncio task does not stop the thread its store call runs on; closing
the store under that thread broke the Neo4j driver's connection mid-write (a ``BufferError`` from the
driver's outbox at teardown, seen once in CI).
"""

from __future__ import annotations

import threading
import time

import pytest
from deadlines import WAIT_S
from fastapi.testclient import TestClient

from api.container import services_of
from api.main import create_app
from graphrec.config import Settings
from graphrec.serving.holder import ModelHolder
from tests.api.conftest import API_KEY


def test_shutdown_waits_for_a_running_refresh_before_closing_the_store(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    armed, started = threading.Event(), threading.Event()

    def slow_check(self: ModelHolder) -> bool:
        if armed.is_set() and not started.is_set():
            started.set()
            time.sleep(0.5)  # still working when shutdown begins
            order.append("refresh returned")
        return False

    monkeypatch.setattr(ModelHolder, "check", slow_check)  # the "model version" refresher's call
    with TestClient(
        create_app(settings.model_copy(update={"model_poll_s": 0.02})), headers={"X-API-Key": API_KEY}
    ) as client:
        store = services_of(client.app).store
        close = store.close

        def recorded_close() -> None:
            order.append("store closed")
            close()

        monkeypatch.setattr(store, "close", recorded_close)
        armed.set()
        assert started.wait(WAIT_S), "the maintenance loop never ran the refresh"
    assert order == ["refresh returned", "store closed"]
