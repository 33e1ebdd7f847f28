"""MMR re-ranking (``graphrec.recommend.diversity.mmr``): what the API's ``diversity`` knob does to a list.

Candidates in these tests, by position: A (the best), A2 (almost as good, nearly the same vector as A),
B (less relevant, orthogonal to A), C (least relevant, opposite to A).
"""

from __future__ import annotations

import numpy as np
import pytest

from graphrec.recommend.diversity import mmr

A, A2, B, C = 0, 1, 2, 3
RELEVANCE = np.array([1.0, 0.95, 0.6, 0.0])
VECTORS = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [-1.0, 0.0]])


def test_no_diversity_keeps_the_relevance_order() -> None:
    assert mmr(RELEVANCE, VECTORS, 4, 0.0) == [A, A2, B, C]
    assert mmr(RELEVANCE, None, 4, 0.8) == [A, A2, B, C]  # no vectors: nothing to diversify on
    shuffled = np.array([0.6, 0.0, 1.0, 0.95])
    assert mmr(shuffled, VECTORS, 4, 0.0) == [2, 3, 0, 1]


def test_diversity_demotes_a_near_duplicate_of_an_item_already_picked() -> None:
    assert mmr(RELEVANCE, VECTORS, 2, 0.0) == [A, A2]
    assert mmr(RELEVANCE, VECTORS, 2, 0.5) == [A, B]  # A2 would repeat A: B, less relevant, comes first
    assert mmr(RELEVANCE, VECTORS, 4, 0.5)[-1] == A2


def test_the_more_diversity_the_later_the_near_duplicate() -> None:
    ranks = [mmr(RELEVANCE, VECTORS, 4, d).index(A2) for d in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)]
    assert ranks == sorted(ranks) and ranks[0] == 1 and ranks[-1] == 3, ranks
    # a little diversity does not outweigh a large relevance lead: A2 keeps its place at 0.1
    assert ranks[1] == 1


def test_the_first_pick_is_the_most_relevant_below_full_diversity() -> None:
    for d in (0.1, 0.5, 0.9):
        assert mmr(RELEVANCE, VECTORS, 1, d) == [A]


def test_full_diversity_picks_each_time_the_candidate_least_like_those_picked() -> None:
    picked = mmr(RELEVANCE, VECTORS, 4, 1.0)
    assert picked[0] == A  # every gain is 0 before anything is picked: the first position wins the tie
    unit = VECTORS / np.linalg.norm(VECTORS, axis=1, keepdims=True)
    sims = unit @ unit.T
    for step in range(1, 4):
        rest = [i for i in range(4) if i not in picked[:step]]
        closeness = {i: max(0.0, *(sims[i, j] for j in picked[:step])) for i in rest}
        assert closeness[picked[step]] == min(closeness.values()), (step, picked, closeness)


def test_items_without_an_embedding_count_as_unlike_everything() -> None:
    relevance = np.array([1.0, 0.95, 0.9])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # the third item has no embedding
    assert mmr(relevance, vectors, 2, 0.5) == [0, 2]


def test_ties_go_to_the_earlier_position() -> None:
    flat = np.array([0.5, 0.5, 0.5])
    same = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert mmr(flat, same, 3, 0.0) == [0, 1, 2]
    assert mmr(flat, same, 3, 0.5) == [0, 1, 2]
    assert mmr(np.array([0.2, 0.9, 0.9]), same, 2, 0.0) == [1, 2]
    two_levels = np.array([0.5] * 50 + [0.9] * 50)  # long enough for an unstable sort to reorder ties
    assert mmr(two_levels, None, 100, 0.0) == [*range(50, 100), *range(50)]


def test_only_the_order_of_relevance_matters_not_its_scale() -> None:
    for d in (0.0, 0.3, 0.6):
        assert mmr(RELEVANCE * 40 - 7, VECTORS, 4, d) == mmr(RELEVANCE, VECTORS, 4, d)


@pytest.mark.parametrize("diversity", [0.0, 0.5, 1.0])
def test_k_bounds_the_list_and_every_position_is_picked_at_most_once(diversity: float) -> None:
    assert mmr(RELEVANCE, VECTORS, 0, diversity) == []
    assert len(mmr(RELEVANCE, VECTORS, 2, diversity)) == 2
    everything = mmr(RELEVANCE, VECTORS, 10, diversity)  # more than there are: all of them, once each
    assert sorted(everything) == [A, A2, B, C]
    assert mmr(np.array([]), np.zeros((0, 2)), 5, diversity) == []
