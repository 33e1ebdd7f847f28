"""DELETE /v1/users/{id} leaves nothing: the real app over its own embedded store, event log and model
versions, all in one data directory that the last test greps byte by byte.

Ids are short (under 20 bytes) so the store's RDB snapshot never LZF-compresses them out of a grep's
sight; every file is searched in UTF-8, UTF-16 and UTF-32 (numpy keeps ids as UTF-32) and inside
zip members (``.npz``, ``weights.pt``), decompressed.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deadlines import wait_until
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.container import Services, services_of
from api.main import create_app
from factories import delta
from graphrec import clock
from graphrec.config import Settings
from graphrec.events.log import connect
from graphrec.export import ExportConfig, export_snapshot
from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import PipelineConfig, publish, train
from graphrec.snapshot import Snapshot

KEY = "erasure-key-1"
USER, VISITOR = "zed4711", "q9zvis"  # the erased user and the anonymous visitor merged into them
NOW = clock.now_ms()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path, starts_processes: None) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=data_dir,
        graph_uri=f"embedded:{data_dir / 'store'}",
        event_log=data_dir / "events.sqlite",
        api_keys=KEY,
        rate_limit_per_s=1_000,
        rate_limit_burst=1_000,
        history_timeout_s=10.0,
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret=SecretStr("s" * 32),
        webhook_retry_s=60.0,
        trigger_rules='[{"name": "active", "feature": "events", "above": 0}]',
        erasure_secret=SecretStr("erasure-secret-for-tests"),
    )
    with TestClient(create_app(settings), headers={"X-API-Key": KEY}) as c:
        yield c


def ev(event_id: str, item: str, *, ts: int = NOW - 600_000, **who: str) -> dict[str, Any]:
    return {"event_id": event_id, "item_id": item, "type": "purchase", "timestamp": ts, **who}


def rows(services: Services, query: str, *params: object) -> list[tuple[Any, ...]]:
    with connect(services.event_log.path) as db:
        return db.execute(query, params).fetchall()


def history_everywhere(client: TestClient) -> Services:
    """The user with merged anonymous history, feedback, served lists, trigger states and webhooks."""
    services = services_of(client.app)
    visitor = [ev(f"ev{k}", f"i{k}", anonymous_id=VISITOR) for k in range(3)]
    assert client.post("/v1/events", json={"events": visitor}).status_code == 202
    wait_until(
        lambda: bool(rows(services, "SELECT 1 FROM webhook_outbox WHERE payload LIKE ?", f"%anon:{VISITOR}%")),
        what="the visitor's trigger to fire",
    )
    merged = client.post(f"/v1/users/{USER}/merge", json={"anonymous_ids": [VISITOR]})
    assert merged.status_code == 200 and merged.json()["merged"] == [VISITOR]
    own = [ev(f"eu{k}", f"i{k + 2}", user_id=USER) for k in range(3)]
    own[0].update(price=9.5, currency="EUR", quantity=2, order_id="ord1")  # revenue details in their own table
    own.append({"event_id": "eu3", "user_id": USER, "type": "custom", "name": "wishlist_add", "timestamp": NOW})
    assert client.post("/v1/events", json={"events": own}).status_code == 202
    # the tracker retries the visitor's batch after the merge: the log gets its rows again under its id
    again = client.post("/v1/events", json={"events": visitor})
    assert again.status_code == 202 and again.json()["duplicates"] == 3
    # the merge moved the visitor's trigger state to the user; the re-logged rows give the visitor one again
    wait_until(
        lambda: (
            rows(services, "SELECT count(*) FROM trigger_state WHERE actor IN (?, ?)", USER, f"anon:{VISITOR}")
            == [(2,)]
        ),
        what="trigger states for both ids",
    )
    services.catalog.refresh(services.store)  # trending now knows the items (the refresher runs every minute)
    recs = client.get(f"/v1/users/{USER}/recommendations", params={"exclude_seen": "false"})
    assert recs.status_code == 200
    shown = client.post(
        "/v1/impressions",
        json={
            "recommendation_id": recs.json()["recommendation_id"],
            "user_id": USER,
            "item_ids": [recs.json()["data"][0]["item_id"]],
        },
    )
    assert shown.status_code in (200, 202), shown.text
    assert rows(services, "SELECT count(*) FROM served WHERE actor = ?", USER) == [(1,)]
    assert rows(services, "SELECT count(*) FROM events WHERE actor = ?", f"anon:{VISITOR}") == [(3,)]
    assert rows(services, "SELECT count(*) FROM purchases WHERE actor = ?", USER) == [(1,)]
    assert rows(services, "SELECT count(*) FROM custom_events WHERE actor = ?", USER) == [(1,)]
    return services


def publish_a_model(services: Services, models: Path) -> ModelArtifact:
    """A small published version that knows the user (others' edges make the graph trainable)."""
    rng = np.random.default_rng(0)
    services.store.upsert_interactions(
        [
            delta(f"u{u}", f"i{(u % 3) * 3 + j}", float(rng.uniform(0.5, 2)), ts=NOW - 86_400_000 - j * 3_600_000)
            for u in range(24)
            for j in rng.choice(3, size=2, replace=False)
        ]
    )
    cfg = PipelineConfig(
        export=ExportConfig(now_ms=NOW),
        train=TrainConfig(
            encoder=EncoderConfig(dim=8, layers=2), epochs=4, batch_size=32, eval_every=2, validation_fraction=0.2
        ),
    )
    out = train(cfg, models_path=models, half_life_days=30.0, store=services.store, version="v1", progress=False)
    publish(services.store, models_path=models, version="v1", half_life_days=30.0)
    assert services.models.check()
    artifact = ModelArtifact.load(out)
    assert artifact.user_index(USER) is not None
    return artifact


def test_retried_events_from_before_the_erasure_do_not_bring_the_user_back(client: TestClient) -> None:
    services = services_of(client.app)
    before = [ev(f"r{k}", f"i{k}", user_id=USER) for k in range(3)]
    assert client.post("/v1/events", json={"events": before}).status_code == 202
    assert client.delete(f"/v1/users/{USER}").status_code == 204
    replay = client.post("/v1/events", json={"events": before})
    assert replay.status_code == 202
    assert (replay.json()["applied"], replay.json()["duplicates"]) == (0, 3)
    assert not services.store.user_exists(user_id=USER)
    gone = client.get(f"/v1/users/{USER}/interactions")
    assert gone.status_code == 404 and gone.json()["detail"] == f"unknown user '{USER}'"
    assert rows(services, "SELECT count(*) FROM events WHERE actor = ?", USER) == [(0,)]
    # The tombstone is a keyed hash: the file never names the id.
    assert rows(services, "SELECT count(*) FROM tombstones") == [(1,)]
    # An event dated after the erasure is a new sign-up under the same id: accepted.
    later = client.post("/v1/events", json={"events": [ev("new1", "i1", ts=clock.now_ms(), user_id=USER)]})
    assert later.status_code == 202 and later.json()["applied"] == 1
    assert [e.item_id for e in services.store.user_interactions(user_id=USER)] == ["i1"]


def test_the_served_model_forgets_the_user_at_once(client: TestClient, data_dir: Path) -> None:
    services = services_of(client.app)
    own = [ev(f"m{k}", f"i{k}", user_id=USER) for k in range(3)]
    assert client.post("/v1/events", json={"events": own}).status_code == 202
    other_worker = publish_a_model(services, data_dir / "models")  # another process's copy of the version
    r = client.get(f"/v1/users/{USER}/recommendations", params={"explain": "true"})
    assert r.status_code == 200 and r.json()["personalised_from"] in ("model", "inductive")
    assert client.delete(f"/v1/users/{USER}").status_code == 204
    r = client.get(f"/v1/users/{USER}/recommendations", params={"explain": "true"})
    assert r.status_code == 200 and r.json()["personalised_from"] == "none"
    assert all(d["source"] == "popular" for d in r.json()["data"])
    # Nothing is recorded for the erased id afterwards, though the request was answered.
    assert rows(services, "SELECT count(*) FROM served WHERE actor = ?", USER) == [(0,)]
    state = services.models.state
    assert state is not None and state.artifact.user_index(USER) is None
    assert other_worker.user_index(USER) is None  # its mapped id table was blanked in place
    on_disk = ModelArtifact.load(data_dir / "models" / "v1")
    assert USER not in on_disk.user_ids.tolist() and on_disk.user_index("u3") is not None
    assert not on_disk.user_embeddings[np.asarray(on_disk.user_ids) == ""].any()


def test_merged_visitors_rows_go_with_the_user_everywhere(client: TestClient) -> None:
    services = history_everywhere(client)
    actors = (USER, f"anon:{VISITOR}")
    assert client.delete(f"/v1/users/{USER}").status_code == 204
    for table in ("events", "purchases", "custom_events", "served", "impressions", "outcomes", "trigger_state"):
        assert rows(services, f"SELECT count(*) FROM {table} WHERE actor IN (?, ?)", *actors) == [(0,)], table
    outbox = [json.loads(p) for (p,) in rows(services, "SELECT payload FROM webhook_outbox")]
    assert [p for p in outbox if p.get("user_id") in actors] == []
    assert rows(services, "SELECT count(*) FROM merged_actors") == [(0,)]
    assert not services.store.user_exists(user_id=f"anon:{VISITOR}")
    # the visitor's batch retried once more: a no-op for the visitor id too (nothing logged, so no trigger)
    again = client.post("/v1/events", json={"events": [ev(f"ev{k}", f"i{k}", anonymous_id=VISITOR) for k in range(3)]})
    assert again.status_code == 202 and again.json()["duplicates"] == 3
    assert rows(services, "SELECT count(*) FROM events WHERE actor = ?", f"anon:{VISITOR}") == [(0,)]
    assert not services.store.user_exists(user_id=f"anon:{VISITOR}")


def needles() -> dict[str, list[bytes]]:
    ids = [USER, f"anon:{VISITOR}", VISITOR, *(f"ev{k}" for k in range(3)), *(f"eu{k}" for k in range(4)), "ord1"]
    return {i: [i.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-32-le")] for i in ids}


def files_naming(root: Path, wanted: dict[str, list[bytes]]) -> list[str]:
    """``path: id`` for every file under ``root`` (and zip member) whose bytes hold one of the ids."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_socket()):
        try:
            blobs = [("", path.read_bytes())]
        except FileNotFoundError:  # a temp file that came and went
            continue
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                blobs += [(f"!{n}", z.read(n)) for n in z.namelist()]
        for where, blob in blobs:
            found += [
                f"{path.relative_to(root)}{where}: {i}" for i, forms in wanted.items() if any(f in blob for f in forms)
            ]
    return found


def test_no_file_under_the_data_directory_names_the_erased_user(client: TestClient, data_dir: Path) -> None:
    services = history_everywhere(client)
    publish_a_model(services, data_dir / "models")
    # a data scientist's snapshot where `graphrec export` puts it by default
    snapshot = export_snapshot(services.store, ExportConfig(now_ms=NOW), half_life_days=30.0, progress=False)
    snapshot.save(services.settings.snapshots_path / "s1")
    wanted = needles()
    before = files_naming(data_dir, wanted)
    assert any(f.startswith("snapshots/s1/user_ids.npy") for f in before), before
    assert any(f.startswith("events.sqlite") for f in before), before  # the grep sees what is there
    assert any(f.startswith("models/v1/user_ids.npy") for f in before), before
    assert any(f.startswith("models/v1/holdout.npz!") for f in before), before
    assert any(f.startswith("store/") for f in before), before  # the append-only file
    assert client.delete(f"/v1/users/{USER}").status_code == 204
    left: list[str] = []

    def clean() -> bool:
        left[:] = files_naming(data_dir, wanted)
        return not left

    wait_until(clean, what="no file to name the erased user", detail=lambda: left)
    assert client.get(f"/v1/users/{USER}/recommendations").json()["personalised_from"] == "none"
    # the snapshot is still one (its content hash holds), everyone else's rows in it
    kept = Snapshot.load(services.settings.snapshots_path / "s1")
    assert USER not in kept.user_ids and kept.manifest["erased_users"] >= 1
    assert set(kept.user_ids) == set(snapshot.user_ids) - {USER, f"anon:{VISITOR}"}
    assert kept.n_edges == snapshot.n_edges - sum(
        int(np.diff(snapshot.indptr)[k]) for k, u in enumerate(snapshot.user_ids) if u in (USER, f"anon:{VISITOR}")
    )
