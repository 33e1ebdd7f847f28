"""Which model an API replica serves: the version the store names (written by publish), whatever the
replica's local CURRENT file says; the file only while the store cannot be asked. Serving only loads
(a version without blend.json gets the default alpha), and a broken version is retried with backoff
while a newly published one is loaded at once."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import META_KEY, PipelineConfig, publish, train, write_current
from graphrec.serving.holder import ModelHolder
from graphrec.serving.refresh import Backoff
from graphrec.serving.store_health import StoreHealth
from tests.model.graphs import block_snapshot

DEFAULT_ALPHA = 0.37


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory with two versions, v1 and v2, each with its tuned blend.json."""
    models = tmp_path_factory.mktemp("trainer") / "models"
    cfg = PipelineConfig(
        train=TrainConfig(
            encoder=EncoderConfig(dim=8, layers=1), epochs=2, batch_size=64, eval_every=1, validation_fraction=0.2
        )
    )
    v1 = train(cfg, models_path=models, half_life_days=30.0, snapshot=block_snapshot(), version="v1", progress=False)
    assert (v1 / "blend.json").exists()
    copy_version(models, "v1", "v2")
    return models


def copy_version(models: Path, old: str, new: str) -> Path:
    shutil.copytree(models / old, models / new)
    manifest = models / new / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"version": new}))
    return models / new


def replica(trained: Path, tmp_path: Path, name: str, *, current: str | None) -> Path:
    """A replica's own models directory: both versions, and a CURRENT file of its own."""
    models = tmp_path / name / "models"
    shutil.copytree(trained, models, ignore=shutil.ignore_patterns("CURRENT"))
    if current is not None:
        write_current(models, current)
    return models


def holder(models: Path, store: FalkorDBStore, health: StoreHealth | None = None) -> ModelHolder:
    return ModelHolder(
        models,
        store=store,
        health=health or StoreHealth(),
        default_alpha=DEFAULT_ALPHA,
        backoff=Backoff(first_s=5.0, cap_s=300.0),
    )


def served(h: ModelHolder) -> str | None:
    return h.state.version if h.state is not None else None


def test_replicas_agree_on_the_version_the_store_names(trained: Path, tmp_path: Path, store: FalkorDBStore) -> None:
    publish(store, models_path=trained, version="v2", half_life_days=30.0)
    a = holder(replica(trained, tmp_path, "a", current="v1"), store)  # a stale local cache
    b = holder(replica(trained, tmp_path, "b", current=None), store)  # none at all
    assert a.check() and b.check()
    assert served(a) == served(b) == "v2"
    assert not a.check()  # nothing changed: no reload

    publish(store, models_path=trained, version="v1", half_life_days=30.0)  # a rollback, from the trainer
    assert a.check() and b.check()
    assert served(a) == served(b) == "v1"


def test_the_current_file_is_the_fallback_while_the_store_is_down(
    trained: Path, tmp_path: Path, store: FalkorDBStore
) -> None:
    store.set_meta(key=META_KEY, value="v2")
    health = StoreHealth()
    health.failed("the watchdog's ping failed")
    h = holder(replica(trained, tmp_path, "a", current="v1"), store, health)
    assert h.check() and served(h) == "v1"
    health.recovered()
    assert h.check() and served(h) == "v2"


def test_nothing_published_in_the_store_serves_no_model(trained: Path, tmp_path: Path, store: FalkorDBStore) -> None:
    h = holder(replica(trained, tmp_path, "a", current="v1"), store)  # a CURRENT left from another store
    assert not h.check() and h.state is None and h.last_error is None


def test_a_version_without_blend_json_is_served_with_the_default_alpha(
    trained: Path, tmp_path: Path, store: FalkorDBStore, caplog: pytest.LogCaptureFixture
) -> None:
    models = replica(trained, tmp_path, "a", current=None)
    (models / "v1" / "blend.json").unlink()
    store.set_meta(key=META_KEY, value="v1")
    h = holder(models, store)
    with caplog.at_level(logging.WARNING, logger="graphrec.serving.holder"):
        assert h.check()
    assert h.state is not None and h.state.blend.source == "default" and h.state.blend.alpha == DEFAULT_ALPHA
    assert "v1 has no blend.json" in caplog.text
    assert not (models / "v1" / "blend.json").exists()  # serving only loads: nothing tuned or written


def test_a_broken_version_backs_off_but_a_new_publish_loads_at_once(
    trained: Path, tmp_path: Path, store: FalkorDBStore
) -> None:
    models = replica(trained, tmp_path, "a", current=None)
    store.set_meta(key=META_KEY, value="v1")
    h = holder(models, store)
    assert h.check() and served(h) == "v1"
    broken = copy_version(models, "v1", "v3")
    (broken / "weights.pt").write_bytes(b"not a torch file")
    store.set_meta(key=META_KEY, value="v3")
    assert not h.check()
    assert served(h) == "v1" and h.last_error is not None and "v3" in h.last_error
    assert h.backoff.failures == 1
    assert not h.check() and h.backoff.failures == 1  # not retried before its backoff is over
    store.set_meta(key=META_KEY, value="v2")  # the fix is published
    assert h.check() and served(h) == "v2"
    assert h.last_error is None and h.backoff.failures == 0
