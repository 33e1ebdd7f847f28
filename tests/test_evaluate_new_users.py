"""The new-user protocol (``graphrec evaluate --protocol new-users``) and the new-user blend it tunes.

What must hold: whole users are held out and nothing fitted or tuned ever sees them; a held-out user
is fed exactly their first n interactions and scored on the rest; the evaluator's ranking is the one
the API serves (the same user, written into a real embedded store and served by the API's
``Recommender`` over the published version, gets the same items); and the tuned weights by history
length are saved with the version, loaded by serving and applied to users it has never seen only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from model.graphs import block_snapshot
from typer.testing import CliRunner

from graphrec.config import Settings
from graphrec.evaluation.baselines import ItemKNN
from graphrec.evaluation.splits import NewUserSplit, new_user_split
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.records import InteractionDelta, UserHistory
from graphrec.model.blend_tuning import BlendParams, HistoryWeights, NewUserTuning, load_blend, save_blend
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.item_neighbours import ItemNeighbours, Similarity
from graphrec.offline.new_user_protocol import (
    ITEM_KNN_SHRINKS,
    NewUserProtocol,
    Served,
    gather_new_users,
    rank_from_history,
    rank_new_users,
    serve_new_users,
    split_lookup,
)
from graphrec.offline.new_user_report import BEFORE, BLEND, ROWS, SeedResult, evaluate_seed
from graphrec.offline.new_user_tuner import gains_over_neighbours
from graphrec.recommend.popular import CatalogCache
from graphrec.recommend.ranking import RecItem, RecRequest, UserInputs, recommend_for_user
from graphrec.recommend.recommender import Recommender
from graphrec.recommend.serving_config import ServingConfig
from graphrec.serving.cograph_holder import CoGraphHolder
from graphrec.serving.holder import ModelHolder, load_state
from graphrec.serving.refresh import Backoff
from graphrec.serving.store_health import StoreHealth
from graphrec.snapshot import Snapshot

LENGTHS = [1, 3]
SETTINGS = {
    "traversal_seed_items": 5,
    "traversal_fanout": 8,
    "cograph_co_items": 12,
    "candidates_per_source": 10,
    "half_life_days": 30.0,
    "blend_default_alpha": 0.5,
    "popular_window_days": 30.0,
}


def _data() -> Snapshot:
    return block_snapshot(groups=3, users_per_group=20, items_per_group=12, density=0.6, seed=3)


def _protocol() -> NewUserProtocol:
    tuning = NewUserTuning(
        fraction=0.25,
        lengths=LENGTHS,
        min_rest=2,
        k=5,
        alphas=[0.0, 0.5, 1.0],
        betas=[0.0, 0.5],
        gammas=[0.0, 0.5, 1.0],
    )
    return NewUserProtocol(fraction=0.25, lengths=LENGTHS, min_rest=2, k=5, tuning=tuning)


def _train_config() -> TrainConfig:
    return TrainConfig(
        encoder=EncoderConfig(dim=8, layers=2), epochs=10, batch_size=64, eval_every=2, validation_fraction=0.2
    )


def _split(full: Snapshot, seed: int = 0) -> NewUserSplit:
    p = _protocol()
    return new_user_split(
        full, fraction=p.fraction, lengths=p.lengths, min_rest=p.min_rest, seed=seed, max_users=p.max_users
    )


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(**SETTINGS)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> tuple[SeedResult, Path]:
    """One seed of the protocol on a small block-structured graph; the version it trained."""
    models = tmp_path_factory.mktemp("models")
    result = evaluate_seed(
        _data(), _protocol(), _train_config(), seed=0, serving=ServingConfig.from_settings(settings), models_path=models
    )
    return result, models / "new-users-seed0"


def test_whole_users_are_held_out_and_fed_in_time_order() -> None:
    full = _data()
    split = _split(full)
    held, kept = set(split.user_ids.tolist()), set(split.train.user_ids.tolist())
    assert held and not held & kept and held | kept == set(full.user_ids.tolist())
    # training holds every edge of the other users and none of the held-out users'
    pairs = {
        (u, i) for u, i in zip(full.user_ids[full.rows].tolist(), full.item_ids[full.indices].tolist(), strict=True)
    }
    train_pairs = {
        (u, i)
        for u, i in zip(
            split.train.user_ids[split.train.rows].tolist(),
            split.train.item_ids[split.train.indices].tolist(),
            strict=True,
        )
    }
    assert train_pairs == {(u, i) for u, i in pairs if u not in held}
    assert split.train.n_items == full.n_items and split.train.n_edges + len(split.items) == full.n_edges
    lookup = {u: k for k, u in enumerate(full.user_ids.tolist())}
    for row, user in enumerate(split.user_ids.tolist()):
        lo, hi = split.indptr[row], split.indptr[row + 1]
        u = lookup[user]
        assert hi - lo >= max(LENGTHS) + 2  # every length is scored on the same users, each with items left
        assert set(split.items[lo:hi].tolist()) == set(full.indices[full.indptr[u] : full.indptr[u + 1]].tolist())
        assert np.all(np.diff(split.timestamps[lo:hi]) >= 0)  # oldest first
    for n in LENGTHS:
        fed, rest = split.fed(n), split.rest(n)
        assert np.all(np.diff(fed.indptr) == n)
        assert np.array_equal(np.diff(rest.indptr), np.diff(split.indptr) - n)
        assert fed.multiply(rest).nnz == 0
        for row in range(split.n_users):
            history = split.history(row, n)
            first = split.items[split.indptr[row] : split.indptr[row] + n]  # the n oldest
            assert history.item_ids == split.train.item_ids[first].tolist()
            assert set(fed[row].indices.tolist()) == set(first.tolist())
            assert len(history) == n and history.last_ts.max() <= split.timestamps[split.indptr[row] + n]
    with pytest.raises(ValueError, match="no user to hold out: 0 users have the 500 interactions"):
        new_user_split(full, fraction=0.2, lengths=[10], min_rest=490, seed=0)


def test_nothing_fitted_or_tuned_sees_a_held_out_user(evaluated: tuple[SeedResult, Path], settings: Settings) -> None:
    result, version = evaluated
    split = _split(_data())
    state = load_state(version, default_alpha=0.5)
    held = set(split.user_ids.tolist())
    assert not held & set(state.artifact.user_ids.tolist())
    # the encoder propagated over the training users' edges only: its degrees are theirs
    degree = np.bincount(split.train.indices, weights=split.train.weights, minlength=split.train.n_items)
    np.testing.assert_allclose(state.artifact.item_degree, degree, rtol=1e-5)
    assert state.artifact.manifest["snapshot"]["n_edges"] == split.train.n_edges
    # the co-interaction index served from is the training users' too
    served = Served.build(state, split.train, ServingConfig.from_settings(settings))
    assert not held & set(served.cograph.user_ids.tolist()) and served.cograph.edges == split.train.n_edges
    # the new-user weights were tuned on training users held out of an auxiliary model
    details = state.blend.new_user_details
    assert details["users"] > 0 and details["auxiliary_users"] == split.train.n_users - details["users"]
    assert result.users == split.n_users


def test_tuned_weights_are_saved_with_the_version_and_loaded_by_serving(evaluated: tuple[SeedResult, Path]) -> None:
    result, version = evaluated
    raw = json.loads((version / "blend.json").read_text())
    assert sorted(raw["new_users"]) == ["1", "3"]
    loaded = load_state(version, default_alpha=0.5).blend
    assert loaded.new_users == result.blend.new_users and sorted(loaded.new_users) == LENGTHS
    for weights in loaded.new_users.values():
        assert weights.alpha in (0.0, 0.5, 1.0) and weights.beta in (0.0, 0.5) and weights.gamma in (0.0, 0.5, 1.0)
    assert set(raw["new_user_details"]["per_length"]) == {"1", "3"}
    # the item-neighbour table the gammas were tuned with, fitted on the version's own edges
    params = raw["new_user_details"]["item_neighbours"]
    table = load_state(version, default_alpha=0.5).neighbours
    assert table is not None and (table.neighbours, table.shrink) == (params["neighbours"], params["shrink"])
    refit = ItemNeighbours.fit(_split(_data()).train, neighbours=table.neighbours, shrink=table.shrink)
    assert (refit.counts != table.counts).nnz == 0
    tuning = _protocol().tuning
    for n, weights in loaded.new_users.items():
        # each length's similarity is a point of the grid, and on the validation users the neighbours alone
        # with it did at least as well as ItemKNN-from-history on both metrics (the cosine is on the grid;
        # nothing is pruned)
        sim, record = weights.similarity, raw["new_user_details"]["per_length"][str(n)]
        assert sim is not None and record["similarity"] == {
            "shrink": sim.shrink,
            "asymmetry": sim.asymmetry,
            "locality": sim.locality,
        }
        assert sim.asymmetry in tuning.asymmetries and sim.locality in tuning.localities
        assert sim.shrink in ITEM_KNN_SHRINKS
        assert record["neighbours_ndcg@5"] >= record["item_knn_ndcg@5"] - 1e-4
        assert record["neighbours_recall@5"] >= record["item_knn_recall@5"] - 1e-4
        # the one-standard-error rule: a mix is served only when it beat the neighbours alone on both metrics
        # by more than one SE
        beat_both = all(
            record.get(f"{m}_gain_over_neighbours", 0.0) > record.get(f"{m}_gain_se", 0.0) for m in ("ndcg", "recall")
        )
        if (weights.alpha, weights.beta, weights.gamma) == (0.0, 0.0, 1.0):
            assert "ndcg_gain_over_neighbours" not in record or (record["kept_neighbours_alone"] and not beat_both)
        else:
            assert beat_both and "kept_neighbours_alone" not in record


def test_ranking_from_history_in_chunks_changes_no_list(evaluated: tuple[SeedResult, Path]) -> None:
    """The tuner and the baselines score users in chunks (memory bounded by the catalogue's size):
    chunking changes no list."""
    _, version = evaluated
    table = load_state(version, default_alpha=0.5).neighbours
    assert table is not None
    fed = _split(_data()).fed(3)
    similarity = Similarity(5.0, 0.8, 2.0)
    score = partial(table.score_history, similarity=similarity)
    whole = rank_from_history(score, fed, k=5)
    assert whole.shape == (fed.shape[0], 5)
    for cells in (1, fed.shape[1] * 2, fed.shape[1] * 3 + 1):  # one row, two rows, three rows per chunk
        np.testing.assert_array_equal(rank_from_history(score, fed, k=5, cells=cells), whole)


def test_a_mix_must_beat_the_neighbours_alone_on_both_metrics() -> None:
    """The one-standard-error rule: a gain on one metric does not buy a loss, or noise, on the other."""
    rng = np.random.default_rng(0)
    alone = (rng.random(400), rng.random(400))
    lift = np.full(400, 0.05) + rng.normal(0, 0.01, 400)
    record, beats = gains_over_neighbours((alone[0] + lift, alone[1] + lift), alone)
    assert beats and record["ndcg_gain_over_neighbours"] == pytest.approx(0.05, abs=0.002)
    assert record["recall_gain_se"] == pytest.approx(0.01 / np.sqrt(400), rel=0.15)
    _, beats = gains_over_neighbours((alone[0] + lift, alone[1] - 0.001), alone)  # NDCG up, recall down
    assert not beats
    _, beats = gains_over_neighbours((alone[0] + lift, alone[1] + rng.normal(0, 0.2, 400)), alone)  # recall: noise
    assert not beats


def test_the_tuners_re_ranking_is_the_api_path(evaluated: tuple[SeedResult, Path], settings: Settings) -> None:
    """The tuner gathers each user's candidates once and re-ranks them per grid point: for any weights
    that must be the list recommend_for_user serves."""
    _, version = evaluated
    split = _split(_data())
    served = Served.build(load_state(version, default_alpha=0.5), split.train, ServingConfig.from_settings(settings))
    lookup = split_lookup(split)
    for n, similarity in itertools.product(LENGTHS, (None, Similarity(1.0, 0.9, 2.0))):
        gathered = gather_new_users(served, split, n, k=5, similarity=similarity)
        for weights in (
            HistoryWeights(0.5, 0.0, 0.0, similarity),
            HistoryWeights(0.3, 0.4, 0.5, similarity),
            HistoryWeights(0.0, 0.0, 1.0, similarity),
        ):
            api = serve_new_users(
                served.with_blend(BlendParams(alpha=0.9, source="fixed", new_users={1: weights})), split, n, k=5
            )
            np.testing.assert_array_equal(rank_new_users(served, gathered, weights, lookup=lookup, k=5), api)


def test_item_neighbours_alone_serve_item_knn_from_history(
    evaluated: tuple[SeedResult, Path], settings: Settings
) -> None:
    """alpha 0, gamma 1, no prior: a new user's list is ItemKNN-from-history's with the table's parameters
    (or with another shrinkage), and, with an asymmetric or sharpened similarity, the sum of the module's
    formula written out over dense counts."""
    _, version = evaluated
    split = _split(_data())
    state = load_state(version, default_alpha=0.5)
    assert state.neighbours is not None
    assert state.neighbours.neighbours >= split.train.n_items - 1  # nothing pruned: any shrinkage is exact
    liked = split.train.matrix("ones").toarray() > 0
    counts = liked.T.astype(np.float64) @ liked
    np.fill_diagonal(counts, 0.0)
    degree = liked.sum(0).astype(np.float64)
    for similarity, n in itertools.product(
        (None, Similarity(0.0), Similarity(5.0), Similarity(1.0, 0.9, 3.0)), LENGTHS
    ):
        only = BlendParams(alpha=0.5, source="fixed", new_users={1: HistoryWeights(0.0, 0.0, 1.0, similarity)})
        served = Served.build(state, split.train, ServingConfig.from_settings(settings)).with_blend(only)
        got = serve_new_users(served, split, n, k=5)
        if similarity is None or similarity.is_cosine:
            knn = ItemKNN(
                neighbours=state.neighbours.neighbours,
                shrink=state.neighbours.shrink if similarity is None else similarity.shrink,
            )
            knn.fit(split.train)
            scores = knn.score_history(split.fed(n)).astype(np.float64)
        else:
            a, h, q = similarity.asymmetry, similarity.shrink, similarity.locality
            scores = split.fed(n).toarray() @ ((counts / (np.outer(degree**a, degree ** (1 - a)) + h + 1e-12)) ** q)
        for row in range(split.n_users):
            fed = split.fed(n)[row].indices
            s = scores[row].copy()
            s[fed] = 0.0
            order = np.lexsort((split.train.item_ids, -s))
            want = order[s[order] > 0][:5]
            assert got[row][got[row] >= 0].tolist() == want.tolist(), (similarity, n, row)


def test_weights_by_history_length_apply_to_new_users_only(tmp_path: Path) -> None:
    three = HistoryWeights(0.6, 0.4, 0.5, Similarity(100.0, 0.7, 2.0))
    params = BlendParams(
        alpha=0.7, source="tuned", new_users={1: HistoryWeights(0.9, 0.8), 3: three, 10: HistoryWeights(0.5, 0.1)}
    )
    picks = {n: params.weights_for(n, new_user=True) for n in (0, 1, 2, 3, 9, 10, 200)}
    assert picks == {
        0: HistoryWeights(0.9, 0.8),
        1: HistoryWeights(0.9, 0.8),
        2: HistoryWeights(0.9, 0.8),
        3: three,
        9: three,
        10: HistoryWeights(0.5, 0.1),
        200: HistoryWeights(0.5, 0.1),
    }
    assert params.weights_for(1, new_user=False) == HistoryWeights(0.7, 0.0)
    assert BlendParams(alpha=0.3, source="tuned").weights_for(1, new_user=True) == HistoryWeights(0.3, 0.0)
    save_blend(tmp_path, params)
    assert load_blend(tmp_path) == params
    # logs and results.md name the similarity only where the neighbours count
    assert three.describe() == "alpha 0.6, beta 0.4, gamma 0.5 (similarity: shrink 100, asymmetry 0.7, locality 2)"
    assert replace(three, gamma=0.0).describe() == "alpha 0.6, beta 0.4, gamma 0"


def test_a_version_saved_before_asymmetry_and_locality_still_loads(tmp_path: Path) -> None:
    """A blend.json written when a length held only the cosine's ``shrink`` serves that cosine."""
    (tmp_path / "blend.json").write_text(
        json.dumps(
            {
                "alpha": 0.6,
                "source": "tuned",
                "new_users": {
                    "1": {"alpha": 0.0, "beta": 0.0, "gamma": 1.0, "shrink": 1000000.0},
                    "3": {"alpha": 0.4, "beta": 0.1, "gamma": 0.5, "shrink": None},
                },
            }
        )
    )
    loaded = load_blend(tmp_path)
    assert loaded is not None and loaded.new_users == {
        1: HistoryWeights(0.0, 0.0, 1.0, Similarity(1e6)),
        3: HistoryWeights(0.4, 0.1, 0.5, None),
    }


def test_serving_applies_the_prior_to_a_new_user_and_not_to_a_known_one(
    evaluated: tuple[SeedResult, Path], settings: Settings
) -> None:
    _, version = evaluated
    split = _split(_data())
    serving = ServingConfig.from_settings(settings)
    state = load_state(version, default_alpha=0.5)
    prior_only = replace(state.blend, alpha=0.5, new_users={1: HistoryWeights(alpha=0.5, beta=1.0)})
    served = Served.build(state, split.train, serving).with_blend(prior_only)
    history = split.history(0, 1)

    def serve(user: str) -> list[str]:
        result = recommend_for_user(
            RecRequest(user_id=user, k=5),
            UserInputs(history),
            state=served.state,
            view=served.view,
            config=serving,
            cograph=served.cograph,
            now_ms=served.now_ms,
        )
        return [item.item_id for item in result.items]

    ids, _ = state.artifact.popular(len(state.artifact.item_ids))
    popular = [i for i in ids.tolist() if i not in history.item_ids][:5]
    assert serve(str(split.user_ids[0])) == popular  # beta 1: a new user's list is the prior's
    known = str(split.train.user_ids[0])  # the version knows this user: the version's alpha, no prior
    assert serve(known) != popular
    rows = serve_new_users(served, split, 1, k=5)
    assert split.train.item_ids[rows[0]].tolist() == popular


def test_the_evaluator_serves_what_the_api_serves(
    evaluated: tuple[SeedResult, Path], settings: Settings, store: FalkorDBStore, tmp_path: Path
) -> None:
    """Train users' edges in a real embedded store, the version published, the API's index built; then
    held-out users send their first events one by one and the API's Recommender answers them: every
    answer equals the evaluator's list for that user and history length."""
    _, version = evaluated
    split = _split(_data())
    models = tmp_path / "models"
    served_version = models / "v-api"
    shutil.copytree(version, served_version)
    blend = load_blend(served_version)
    # weights with a prior and item neighbours at both lengths, so those paths are compared too
    assert blend is not None and (served_version / "item_neighbours.npz").exists()
    save_blend(
        served_version, replace(blend, new_users={1: HistoryWeights(0.5, 0.5, 0.5), 3: HistoryWeights(0.4, 0.3, 0.75)})
    )
    train = split.train
    rows = train.rows
    store.upsert_interactions(
        [
            InteractionDelta(
                user_id=str(train.user_ids[r]),
                item_id=str(train.item_ids[i]),
                weight=float(w),
                count=1,
                first_ts=int(t),
                last_ts=int(t),
                type_counts={"view": 1},
                value_sums={},
            )
            for r, i, w, t in zip(rows, train.indices, train.weights, train.timestamps, strict=True)
        ]
    )
    store.set_meta(key="model_version", value="v-api")
    health = StoreHealth()
    holder = ModelHolder(models, store=store, health=health, default_alpha=0.5, backoff=Backoff(first_s=1.0, cap_s=1.0))
    assert holder.check() and holder.state is not None  # serving's own loader, from the store's record
    cograph = CoGraphHolder(fanout=settings.traversal_fanout, co_items=settings.cograph_co_items)
    cograph.refresh(store)  # the index as the API built it before these users arrived
    catalog = CatalogCache(window_days=settings.popular_window_days, half_life_days=settings.half_life_days)
    catalog.refresh(store)
    evaluator = Served.build(holder.state, train, ServingConfig.from_settings(settings))
    expected = {n: serve_new_users(evaluator, split, n, k=5) for n in LENGTHS}

    async def answers() -> dict[tuple[int, int], tuple[list[str], str]]:
        reader = store.history_reader()
        blocking = ThreadPoolExecutor(1)
        try:
            api = Recommender(
                config=ServingConfig.from_settings(settings),
                store=store,
                history=reader,
                models=holder,
                catalog=catalog,
                cograph=cograph,
                health=health,
                blocking=blocking,
            )
            got = {}
            for row in range(min(split.n_users, 6)):
                sent = 0
                for n in LENGTHS:
                    history = split.history(row, n)
                    store.upsert_interactions(
                        [  # the user's events arrive, oldest first
                            InteractionDelta(
                                user_id=str(split.user_ids[row]),
                                item_id=item,
                                weight=float(w),
                                count=1,
                                first_ts=int(t),
                                last_ts=int(t),
                                type_counts={"view": 1},
                                value_sums={},
                            )
                            for item, w, t in list(
                                zip(history.item_ids, history.weights, history.last_ts, strict=True)
                            )[sent:]
                        ]
                    )
                    sent = n
                    result = await api.for_user(RecRequest(user_id=str(split.user_ids[row]), k=5))
                    got[(row, n)] = ([item.item_id for item in result.items], result.personalised_from)
            return got
        finally:
            await reader.aclose()
            blocking.shutdown()

    got = asyncio.run(answers())
    assert got
    for (row, n), (items, personalised) in got.items():
        want = expected[n][row]
        assert personalised == "inductive"  # a user the version does not know: the inductive embedding
        assert items == train.item_ids[want[want >= 0]].tolist(), (row, n)


def test_evaluate_new_users_command(tmp_path: Path) -> None:
    """The CLI end to end on a MovieLens-format directory, two seeds: every row and column, intervals,
    the tuned weights per seed and the paired tests."""
    from graphrec.cli import app

    full = _data()
    data = tmp_path / "ml"
    data.mkdir()
    lines = [
        f"{int(u) + 1}\t{int(i) + 1}\t4\t{int(t) // 1000}"
        for u, i, t in zip(full.rows, full.indices, full.timestamps, strict=True)
    ]
    (data / "u.data").write_text("\n".join(lines) + "\n")
    config = tmp_path / "new-users.toml"
    config.write_text("""
[evaluation.new_users]
fraction = 0.25
lengths = [1, 3]
min_rest = 2
k = 5
[evaluation.new_users.tuning]
fraction = 0.25
lengths = [1, 3]
min_rest = 2
k = 5
alphas = [0.0, 1.0]
betas = [0.0, 0.5]
[train]
epochs = 6
batch_size = 64
eval_every = 2
[train.encoder]
dim = 8
""")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--dataset",
            f"movielens:{data}",
            "--protocol",
            "new-users",
            "--seeds",
            "0,1",
            "--config",
            str(config),
            "--output",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "results.json").read_text())
    rows = {r["model"]: r for r in saved["results"]}
    assert list(rows) == list(ROWS)
    columns = [f"{m}@5 n={n}" for n in (1, 3) for m in ("recall", "ndcg")]
    for row in rows.values():
        for column in columns:
            assert 0.0 <= row[column] <= 1.0 and f"{column} ±" in row
    assert set(saved["meta"]["new_user_weights"]) == {"0", "1"}
    assert all(set(w) == {"1", "3"} for w in saved["meta"]["new_user_weights"].values())
    assert len(saved["meta"]["paired_tests"]) == 2 * len(columns)
    # each seed holds out other users: the seeds' means are the observations, Holm over the baselines
    assert all(t["unit"] == "seed" and t["n"] == 2 and t["p_holm"] >= t["p"] for t in saved["meta"]["paired_tests"])
    table = (out / "results.md").read_text()
    assert f"| {BLEND} |" in table and f"| {BEFORE} |" in table and "NDCG@5 n=3" in table
    assert "NDCG@5 n=3" in result.output  # the command prints the table


def test_new_users_needs_timestamps() -> None:
    from graphrec.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--dataset", "lightgcn:a.txt,b.txt", "--protocol", "new-users"])
    assert result.exit_code == 2
    assert "cannot hold users out by time" in result.output


def test_explain_shows_the_item_neighbours_part(evaluated: tuple[SeedResult, Path], settings: Settings) -> None:
    """explain=true: each item carries its neighbour score and gamma, and an item only the neighbours
    proposed is explained by the seen items it is a neighbour of."""
    _, version = evaluated
    split = _split(_data())
    serving = ServingConfig.from_settings(settings)
    state = load_state(version, default_alpha=0.5)
    mixed = BlendParams(alpha=0.5, source="fixed", new_users={1: HistoryWeights(0.3, 0.0, 0.6, Similarity(2.0, 0.8))})
    served = Served.build(state, split.train, serving).with_blend(mixed)

    def explained(user: str, history: UserHistory) -> list[RecItem]:
        return recommend_for_user(
            RecRequest(user_id=user, k=20, explain=True),
            UserInputs(history),
            state=served.state,
            view=served.view,
            config=serving,
            cograph=served.cograph,
            now_ms=served.now_ms,
        ).items

    only_neighbours = 0
    for row in range(split.n_users):
        history = split.history(row, 1)
        items = explained(str(split.user_ids[row]), history)
        assert items and all(i.parts is not None and i.parts.gamma == 0.6 and i.parts.alpha == 0.3 for i in items)
        for item in items:
            assert item.parts is not None
            if item.parts.neighbours is None:
                continue
            assert item.source in ("graph", "both")
            if item.parts.graph is None:  # the neighbours alone led here (the traversal's caps missed it)
                only_neighbours += 1
                assert item.evidence and set(item.evidence) <= set(history.item_ids)
                assert any(e in reason for reason in item.reasons for e in item.evidence)
        # the same history for a user the version knows: no neighbours, gamma 0
        known = explained(str(split.train.user_ids[row]), history)
        assert all(i.parts is not None and i.parts.neighbours is None and i.parts.gamma == 0.0 for i in known)
    assert only_neighbours > 0


def test_new_user_tuning_reports_progress_off_a_terminal(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tuning inside `graphrec train` took minutes without a word: with progress on and no terminal
    it says what starts (the auxiliary model, whose epochs print their own lines) and ends on a line
    with the whole count of steps and an ETA, through graphrec.progress."""
    from graphrec.offline.new_user_protocol import ITEM_KNN_POINTS
    from graphrec.offline.new_user_tuner import NewUserBlendTuner, similarity_points

    tuning = _protocol().tuning
    tuner = NewUserBlendTuner(ServingConfig.from_settings(settings), progress="lines")
    tuner(_data(), _train_config(), tuning, epochs=4)
    err = capsys.readouterr().err.splitlines()
    grid = len(tuning.alphas) * len(tuning.betas) * len(tuning.gammas)
    total = len(tuning.lengths) * (similarity_points(tuning) + 1 + grid)
    knn = f"new-user tuning: ItemKNN grid {ITEM_KNN_POINTS}/{ITEM_KNN_POINTS}  ItemKNN neighbours="
    aux = "new-user tuning: auxiliary model without the "
    weights = f"new-user tuning: weights {total}/{total}  n={LENGTHS[-1]} alpha="
    order = [next(n for n, line in enumerate(err) if line.startswith(start)) for start in (knn, aux, "epoch 4/4")]
    assert order == sorted(order), err  # the grid, then the note, then the auxiliary model's own epoch line
    assert err[-1].startswith(weights) and "ETA 0s" in err[-1], err
    quiet = NewUserBlendTuner(ServingConfig.from_settings(settings))
    quiet(_data(), _train_config(), tuning, epochs=2)
    assert capsys.readouterr().err == ""
