"""Content features and the cold-item path: the text vectoriser saved as plain files and rebuilt from them,
the features GraphSAGE is trained on, the ridge map, and an unseen item placed by its title and categories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import ContentConfig, EncoderConfig, TrainConfig
from graphrec.model.content import CONTENT_ARRAYS, CONTENT_JSON, ContentEncoder
from graphrec.model.content_map import L2_GRID, ContentEmbedder, ContentMap, through_layers
from graphrec.model.trainer import Trainer
from graphrec.snapshot import TITLES, Snapshot
from tests.model.graphs import GROUP_WORDS, block_snapshot

ITEMS_PER_GROUP = 10


def small_config(**update: object) -> TrainConfig:
    return TrainConfig(
        encoder=EncoderConfig(dim=16, layers=2),
        content=ContentConfig(text_dim=8),
        epochs=40,
        batch_size=64,
        validation_fraction=0.0,
        threads=1,
        **update,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def trained() -> tuple[Snapshot, ModelArtifact]:
    snap = block_snapshot(titles=True, items_per_group=ITEMS_PER_GROUP)
    config = small_config()
    result = Trainer(config, progress=False).fit(snap)
    return snap, ModelArtifact.from_training(result, snap, version="v1", config=config)


def test_the_vectoriser_round_trips_through_plain_json_and_arrays(tmp_path: Path) -> None:
    snap = block_snapshot(titles=True)
    encoder = ContentEncoder.fit(snap, ContentConfig(text_dim=4), seed=0)
    assert encoder is not None and encoder.text_dim == 4 and "harbour" in encoder.terms
    mapping = ContentMap.fit(encoder.snapshot_features(snap), np.random.default_rng(0).normal(size=(snap.n_items, 6)))
    ContentEmbedder(encoder, mapping).save(tmp_path)

    meta = json.loads((tmp_path / CONTENT_JSON).read_text())
    assert meta["terms"] == list(encoder.terms) and meta["category_names"] == ["c0", "c1", "c2"]
    with np.load(tmp_path / CONTENT_ARRAYS, allow_pickle=False) as npz:  # nothing pickled to load
        assert sorted(npz.files) == ["components", "idf", "map_bias", "map_l2", "map_weight"]
        assert all(npz[name].dtype.kind == "f" for name in npz.files)

    loaded = ContentEmbedder.load(tmp_path)
    assert loaded is not None
    titles = ["Harbour boats, never seen words", "", "zzz qqq"]
    categories = [("c1",), ("c0", "no-such-category", "c0"), ()]
    np.testing.assert_array_equal(
        loaded.embed(titles, categories), ContentEmbedder(encoder, mapping).embed(titles, categories)
    )
    features = loaded.encoder.features(titles, categories)
    assert np.allclose(features[1, :3], [1.0, 0.0, 0.0])  # a repeated name counts once, an unknown one not at all
    assert not features[2].any()  # no known word and no category: an empty row
    # the catalogue path (names, titles) gives the snapshot's own rows
    names = [tuple(snap.category_names[snap.item_category_matrix()[i].indices].tolist()) for i in range(snap.n_items)]
    np.testing.assert_allclose(
        loaded.encoder.features(snap.titles.tolist(), names), encoder.snapshot_features(snap), atol=1e-6
    )


def test_without_titles_the_features_are_the_category_features_graphsage_always_had() -> None:
    snap = block_snapshot()
    encoder = ContentEncoder.fit(snap, ContentConfig(), seed=0)
    assert encoder is not None and encoder.text_dim == 0 and not encoder.terms
    cats = snap.item_category_matrix().toarray()
    np.testing.assert_array_equal(encoder.snapshot_features(snap), cats / cats.sum(1, keepdims=True))
    assert ContentEncoder.fit(block_snapshot(categories=False), ContentConfig(), seed=0) is None


def test_text_features_reach_the_model_input(trained: tuple[Snapshot, ModelArtifact]) -> None:
    snap, artifact = trained
    assert artifact.content is not None and artifact.model.feature_proj is not None
    assert artifact.model.feature_proj.in_features == snap.n_categories + artifact.content.encoder.text_dim == 3 + 8
    assert artifact.item_features is not None and artifact.item_features.shape == (snap.n_items, 11)


def test_the_map_is_exact_on_a_linear_relation_and_shrinks_when_content_says_nothing() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 12))
    weight, bias = rng.normal(size=(12, 5)), rng.normal(size=5)
    fitted = ContentMap.fit(x, x @ weight + bias)
    new = rng.normal(size=(20, 12))
    np.testing.assert_allclose(fitted(new), new @ weight + bias, atol=1e-2)
    assert fitted.l2 < 1e-3 * np.linalg.norm(x - x.mean(0), 2) ** 2  # little shrinkage: the fit is exact

    noise = rng.normal(size=(300, 5))
    unrelated = ContentMap.fit(x, noise)
    assert unrelated.l2 >= L2_GRID[-2] * np.linalg.norm(x - x.mean(0), 2) ** 2  # leave-one-out wants shrinkage
    assert np.abs(unrelated(new) - noise.mean(0)).max() < 0.5 * np.abs(fitted(new) - fitted.bias).max()


def test_an_unseen_item_lands_among_the_items_its_title_and_category_name(
    trained: tuple[Snapshot, ModelArtifact],
) -> None:
    snap, artifact = trained
    for group in range(3):
        vectors = artifact.embed_content([f"{GROUP_WORDS[group]} brand new"], [(f"c{group}",)])
        assert vectors is not None and vectors.shape == (1, 16)
        ids, _ = artifact.similar_to(vectors[0], 5)
        groups = [int(i[1:]) // ITEMS_PER_GROUP for i in ids.tolist()]
        assert groups == [group] * 5, (group, ids)
    # by title alone, the category left out, still its group
    alone = artifact.embed_content([f"{GROUP_WORDS[2]}"], [()])
    assert alone is not None
    ids, _ = artifact.similar_to(alone[0], 3)
    assert all(int(i[1:]) // ITEMS_PER_GROUP == 2 for i in ids.tolist())


def test_features_through_the_layers_alone_are_what_the_model_computes_without_ids_or_neighbours(
    trained: tuple[Snapshot, ModelArtifact],
) -> None:
    snap, artifact = trained
    features = artifact.content.encoder.features(["glacier ice"], [("c0",)]) if artifact.content else None
    assert features is not None
    own = artifact.infer_item(np.zeros(0, np.int64), np.zeros(0), features=features[0])  # the per-item path
    np.testing.assert_allclose(through_layers(artifact.model, features)[0], own, atol=1e-5)


def test_a_version_round_trips_with_its_content_path_and_one_without_still_loads(
    trained: tuple[Snapshot, ModelArtifact], tmp_path: Path
) -> None:
    _, artifact = trained
    out = artifact.save(tmp_path / "v1")
    loaded = ModelArtifact.load(out)
    titles, categories = ["harbour boats", "desert cactus sale"], [("c1",), ()]
    np.testing.assert_allclose(loaded.embed_content(titles, categories), artifact.embed_content(titles, categories))
    (out / CONTENT_JSON).unlink()  # a version trained before content features existed
    (out / CONTENT_ARRAYS).unlink()
    old = ModelArtifact.load(out)
    assert old.content is None and old.embed_content(titles, categories) is None
    np.testing.assert_array_equal(old.item_embeddings, artifact.item_embeddings)


def test_snapshot_titles_round_trip_and_leave_a_title_less_snapshot_as_it_was(tmp_path: Path) -> None:
    plain = block_snapshot()
    titled = block_snapshot(titles=True)
    assert not plain.has_titles and titled.has_titles
    assert plain.manifest["content_hash"] != titled.manifest["content_hash"]
    blank = Snapshot(**{**_arrays(plain), "item_titles": np.full(plain.n_items, "")})
    assert blank.manifest["content_hash"] == plain.manifest["content_hash"]  # empty titles hash as none

    titled.save(tmp_path / "titled")
    again = Snapshot.load(tmp_path / "titled")
    assert again.titles.tolist() == titled.titles.tolist()
    assert again.subset_edges(again.weights > 1.0).titles.tolist() == titled.titles.tolist()

    plain.save(tmp_path / "plain")
    assert not (tmp_path / "plain" / f"{TITLES}.npy").exists()  # the format of a snapshot saved before titles
    assert not Snapshot.load(tmp_path / "plain").has_titles
    titled.save(tmp_path / "reused")
    plain.save(tmp_path / "reused")  # a rewrite without titles leaves no stale titles behind
    assert not Snapshot.load(tmp_path / "reused").has_titles


def _arrays(snap: Snapshot) -> dict[str, object]:
    names = ("user_ids", "item_ids", "indptr", "indices", "weights", "timestamps")
    return {n: getattr(snap, n) for n in names} | {
        "category_indptr": snap.category_indptr,
        "category_indices": snap.category_indices,
        "category_names": snap.category_names,
    }
