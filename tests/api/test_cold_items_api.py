"""Cold items through the real API (issue 30, point 4): an item a catalogue upsert describes with only a
title and categories, that nobody has touched, is listed in ``/similar`` of a related item and in a
related user's recommendations at once, explained as content-based; the embedded FalkorDB store, a
version trained from it and published, the app's own holders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.container import Services, services_of
from api.main import create_app
from factories import delta
from graphrec import clock
from graphrec.config import Settings
from graphrec.export import ExportConfig
from graphrec.model.blend_tuning import NewUserTuning
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import PipelineConfig, publish, train
from tests.api.conftest import API_KEY

NOW = clock.now_ms()
GROUPS = {"fruit": "orchard apples", "marine": "harbour boats", "plants": "desert cactus"}
VARIANTS = ("classic", "deluxe", "mini", "family pack", "gift box", "limited run")
CONTENT_BASED = "content-based"


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    s = settings.model_copy(update={"model_dir": tmp_path / "models"})
    with TestClient(create_app(s), headers={"X-API-Key": API_KEY}) as c:
        services_of(c.app).store.clear()
        yield c


def catalogue_and_history(client: TestClient, services: Services) -> None:
    """Eighteen described items in three groups (title words and category shared within a group) and
    eight users per group, each with four of its group's items and one item of the next group."""
    items = [
        {"item_id": f"{group}-{n}", "title": f"{words} {VARIANTS[n]}", "categories": [group]}
        for group, words in GROUPS.items()
        for n in range(len(VARIANTS))
    ]
    assert client.put("/v1/items", json={"items": items}).status_code == 200
    rng = np.random.default_rng(3)
    names = list(GROUPS)
    deltas = []
    for g, group in enumerate(names):
        for u in range(8):
            picks = [f"{group}-{n}" for n in rng.choice(len(VARIANTS), size=4, replace=False)]
            picks.append(f"{names[(g + 1) % 3]}-{rng.integers(len(VARIANTS))}")
            deltas += [
                delta(f"{group}-fan{u}", item, 1.0, ts=NOW - 3_600_000 * (k + 1)) for k, item in enumerate(picks)
            ]
    services.store.upsert_interactions(deltas)


def publish_a_model(services: Services, models: Path) -> None:
    cfg = PipelineConfig(
        holdout_fraction=0.0,
        export=ExportConfig(now_ms=NOW),
        new_users=NewUserTuning(enabled=False),
        train=TrainConfig(
            encoder=EncoderConfig(dim=16, layers=2), epochs=40, batch_size=32, validation_fraction=0.0, threads=1
        ),
    )
    train(cfg, models_path=models, half_life_days=30.0, store=services.store, version="v1", progress=False)
    publish(services.store, models_path=models, version="v1", half_life_days=30.0)
    assert services.models.check()
    state = services.models.state
    assert state is not None and state.artifact.content is not None  # the version learnt from the titles


def listed(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["item_id"]: d for d in answer["data"]}


def content_based(entry: dict[str, Any]) -> bool:
    return any(reason.startswith(CONTENT_BASED) for reason in entry["reasons"] or ())


def test_an_item_upserted_with_only_a_title_and_categories_is_similar_to_a_related_item(
    client: TestClient, tmp_path: Path
) -> None:
    services = services_of(client.app)
    catalogue_and_history(client, services)
    publish_a_model(services, tmp_path / "models")
    before = client.get("/v1/items/fruit-0/similar", params={"k": 10, "explain": "true"})
    assert before.status_code == 200 and "fruit-new" not in listed(before.json())

    put = client.put("/v1/items/fruit-new", json={"title": "orchard apples organic crate", "categories": ["fruit"]})
    assert put.status_code == 200, put.text
    assert services.models.state is not None and services.models.state.artifact.item_index("fruit-new") is None

    similar = client.get("/v1/items/fruit-0/similar", params={"k": 10, "explain": "true"})
    assert similar.status_code == 200, similar.text
    found = listed(similar.json())
    assert "fruit-new" in found, list(found)
    assert found["fruit-new"]["source"] == "embedding" and content_based(found["fruit-new"])
    assert found["fruit-new"]["title"] == "orchard apples organic crate" and found["fruit-new"]["categories"] == [
        "fruit"
    ]
    assert not any(content_based(d) for item, d in found.items() if item != "fruit-new")  # the others learnt theirs
    unrelated = listed(client.get("/v1/items/marine-0/similar", params={"k": 5}).json())
    assert "fruit-new" not in unrelated

    own = client.get("/v1/items/fruit-new/similar", params={"k": 4, "explain": "true"})  # it has neighbours too
    assert own.status_code == 200, own.text
    neighbours = listed(own.json())
    assert len(neighbours) == 4 and all(item.startswith("fruit-") for item in neighbours), list(neighbours)
    assert all(content_based(d) for d in neighbours.values())

    recs = client.get("/v1/users/fruit-fan0/recommendations", params={"k": 10, "explain": "true"})
    assert recs.status_code == 200, recs.text
    offered = listed(recs.json())
    assert "fruit-new" in offered and content_based(offered["fruit-new"]), list(offered)
