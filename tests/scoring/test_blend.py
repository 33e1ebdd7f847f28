"""The online blend (candidate columns) and the tuner's matrix form must be the same rule."""

from __future__ import annotations

import numpy as np
import pytest

from graphrec.scoring.blend import SOURCES, blend, blend_matrix


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_blend_equals_the_tuners_matrix_rule(alpha: float) -> None:
    rng = np.random.default_rng(int(alpha * 10))
    n_items = 60
    names = np.array([f"i{k:02d}" for k in range(n_items)])
    emb_pos = rng.choice(n_items, 25, replace=False)
    graph_pos = rng.choice(n_items, 20, replace=False)
    emb_scores, graph_scores = rng.normal(size=25), rng.uniform(0.1, 3.0, size=20)
    got = blend(names[emb_pos], emb_scores, names[graph_pos], graph_scores, alpha)

    emb = np.full((1, n_items), -np.inf)
    emb[0, emb_pos] = emb_scores
    graph = np.zeros((1, n_items))
    graph[0, graph_pos] = graph_scores
    want = blend_matrix(emb, graph, alpha, top_n=n_items)[0]
    expected = {names[k]: want[k] for k in np.flatnonzero(np.isfinite(want))}
    assert dict(zip(got.ids.tolist(), got.scores.tolist(), strict=True)) == pytest.approx(expected)
    assert np.all(np.diff(got.scores) <= 0)  # best first


def test_sources_and_ties() -> None:
    got = blend(np.array(["b", "a", "c"]), np.array([1.0, 1.0, 0.0]), np.array(["c", "d"]), np.array([2.0, 2.0]), 0.5)
    sources = dict(zip(got.ids.tolist(), [SOURCES[s] for s in got.sources.tolist()], strict=True))
    assert sources == {"a": "embedding", "b": "embedding", "c": "both", "d": "graph"}
    # a, b, c (0 + 0.5), d all score 0.5 (constant graph list normalises to ones); ties go by id
    assert got.ids.tolist() == ["a", "b", "c", "d"]
    assert got.scores.tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_one_empty_source() -> None:
    got = blend(np.array([], dtype=str), np.zeros(0), np.array(["x", "y"]), np.array([1.0, 3.0]), 0.0)
    assert got.ids.tolist() == ["y", "x"] and got.scores.tolist() == pytest.approx([1.0, 0.0])
    assert [SOURCES[s] for s in got.sources.tolist()] == ["graph", "graph"]
    assert len(blend(np.array([], dtype=str), np.zeros(0), np.array([], dtype=str), np.zeros(0), 0.5)) == 0


def test_the_prior_mixes_in_with_weight_beta() -> None:
    emb_ids, emb_scores = np.array(["a", "b"]), np.array([2.0, 0.0])  # normalised: a 1, b 0
    graph_ids, graph_scores = np.array(["b", "c"]), np.array([3.0, 1.0])  # b 1, c 0
    prior = (np.array(["c", "d", "a"]), np.array([10.0, 5.0, 0.0]))  # c 1, d 0.5, a 0
    got = blend(emb_ids, emb_scores, graph_ids, graph_scores, 0.5, prior=prior, beta=0.4)
    scores = dict(zip(got.ids.tolist(), got.scores.tolist(), strict=True))
    assert scores == pytest.approx({"a": 0.6 * 0.5, "b": 0.6 * 0.5, "c": 0.4, "d": 0.2})
    sources = dict(zip(got.ids.tolist(), [SOURCES[s] for s in got.sources.tolist()], strict=True))
    assert sources == {"a": "embedding", "b": "both", "c": "graph", "d": "popular"}  # d: the prior alone
    assert got.ids.tolist() == ["c", "a", "b", "d"]
    # beta 0 (or no prior) is the two-source rule, to the bit
    two = blend(emb_ids, emb_scores, graph_ids, graph_scores, 0.5)
    same = blend(emb_ids, emb_scores, graph_ids, graph_scores, 0.5, prior=prior, beta=0.0)
    assert same.ids.tolist() == two.ids.tolist() and same.scores.tolist() == two.scores.tolist()
    assert set(two.ids.tolist()) == {"a", "b", "c"}


def test_item_neighbours_share_the_graph_part_with_weight_gamma() -> None:
    emb_ids, emb_scores = np.array(["a", "b"]), np.array([2.0, 0.0])  # normalised: a 1, b 0
    graph_ids, graph_scores = np.array(["b", "c"]), np.array([3.0, 1.0])  # b 1, c 0
    nb = (np.array(["c", "e"]), np.array([4.0, 2.0]))  # c 1, e 0
    got = blend(emb_ids, emb_scores, graph_ids, graph_scores, 0.4, neighbours=nb, gamma=0.25)
    scores = dict(zip(got.ids.tolist(), got.scores.tolist(), strict=True))
    assert scores == pytest.approx({"a": 0.4, "b": 0.6 * 0.75, "c": 0.6 * 0.25, "e": 0.0})
    sources = dict(zip(got.ids.tolist(), [SOURCES[s] for s in got.sources.tolist()], strict=True))
    assert sources == {"a": "embedding", "b": "both", "c": "graph", "e": "graph"}  # a neighbour is graph evidence
    # with the prior too: the personal part is (1 - beta) of it
    both = blend(
        emb_ids,
        emb_scores,
        graph_ids,
        graph_scores,
        0.4,
        neighbours=nb,
        gamma=0.25,
        prior=(np.array(["e"]), np.array([1.0])),
        beta=0.5,
    )
    assert dict(zip(both.ids.tolist(), both.scores.tolist(), strict=True)) == pytest.approx(
        {"a": 0.2, "b": 0.5 * 0.45, "c": 0.5 * 0.15, "e": 0.5}
    )
    # gamma 0 is the rule without neighbours, to the bit
    two = blend(emb_ids, emb_scores, graph_ids, graph_scores, 0.4)
    same = blend(emb_ids, emb_scores, graph_ids, graph_scores, 0.4, neighbours=nb, gamma=0.0)
    assert same.ids.tolist() == two.ids.tolist() and same.scores.tolist() == two.scores.tolist()


def test_an_item_without_interactions_is_not_penalised_for_missing_from_the_graph_list() -> None:
    emb_ids, emb = np.array(["a", "new", "b"]), np.array([1.0, 0.5, 0.0])
    graph_ids, graph = np.array(["a", "b"]), np.array([0.0, 1.0])
    plain = blend(emb_ids, emb, graph_ids, graph, 0.5)
    fair = blend(emb_ids, emb, graph_ids, graph, 0.5, unconnected=frozenset({"new", "b"}))
    scores = lambda r: dict(zip(r.ids.tolist(), r.scores.tolist(), strict=True))  # noqa: E731
    assert scores(plain)["new"] == pytest.approx(0.25)  # half of its normalised embedding score
    assert scores(fair)["new"] == pytest.approx(0.5)  # its embedding score stands for both parts
    assert scores(fair)["a"] == scores(plain)["a"] and scores(fair)["b"] == scores(plain)["b"]  # b is on the graph list
    assert dict(zip(fair.ids.tolist(), fair.sources.tolist(), strict=True))["new"] == 0  # still the embedding's
