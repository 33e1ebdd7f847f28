"""Ranking losses: what moves them, where their gradient goes, and the shapes they take."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphrec.model.losses import bpr_loss, softmax_loss
from graphrec.model.negative_sampler import NegativeSampler
from model.graphs import block_snapshot


def _scores(b: int = 6, n: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, generator=g), torch.randn(b, n, generator=g)


def test_softmax_loss_falls_when_the_positive_scores_higher() -> None:
    pos, neg = _scores()
    before = softmax_loss(pos, neg, 0.2)
    assert softmax_loss(pos + 0.5, neg, 0.2) < before
    assert softmax_loss(pos, neg + 0.5, 0.2) > before


def test_softmax_loss_is_cross_entropy_with_the_positive_as_class_zero() -> None:
    pos, neg = _scores(b=7, n=9)
    logits = torch.cat([pos[:, None], neg], dim=1) / 0.3
    expected = torch.nn.functional.cross_entropy(logits, torch.zeros(7, dtype=torch.long))
    torch.testing.assert_close(softmax_loss(pos, neg, 0.3), expected)


def test_softmax_gradient_reaches_every_negative_and_favours_the_hardest() -> None:
    pos = torch.zeros(1, requires_grad=True)
    neg = torch.tensor([[-1.0, 0.0, 2.0]], requires_grad=True)
    softmax_loss(pos, neg, 0.5).backward()  # type: ignore[no-untyped-call]
    assert pos.grad is not None and neg.grad is not None
    assert pos.grad.item() < 0  # raising the positive lowers the loss
    g = neg.grad[0]
    assert bool((g > 0).all())  # every negative is pushed down
    assert g[2] > g[1] > g[0]  # the highest-scoring one hardest


def test_lower_temperature_concentrates_the_gradient_on_the_hardest_negative() -> None:
    def share_of_hardest(t: float) -> float:
        neg = torch.tensor([[0.0, 0.2, 0.8]], requires_grad=True)
        softmax_loss(torch.zeros(1), neg, t).backward()  # type: ignore[no-untyped-call]
        assert neg.grad is not None
        return float(neg.grad[0, 2] / neg.grad.sum())

    assert share_of_hardest(0.05) > share_of_hardest(0.5) > share_of_hardest(5.0)


def test_masked_negatives_take_no_part() -> None:
    pos, neg = _scores(b=4, n=6)
    masked = neg.clone()
    masked[:, 3:] = float("-inf")
    torch.testing.assert_close(softmax_loss(pos, masked, 0.2), softmax_loss(pos, neg[:, :3], 0.2))
    assert torch.isfinite(softmax_loss(pos, torch.full((4, 6), float("-inf")), 0.2))


def test_softmax_refuses_a_non_positive_temperature() -> None:
    pos, neg = _scores()
    with pytest.raises(ValueError, match="temperature"):
        softmax_loss(pos, neg, 0.0)


def test_bpr_takes_one_or_several_negatives_per_positive() -> None:
    pos, neg = _scores(b=5, n=3)
    several = bpr_loss(pos, neg)
    per_column = torch.stack([bpr_loss(pos, neg[:, j]) for j in range(3)]).mean()
    torch.testing.assert_close(several, per_column)
    assert bpr_loss(pos + 1.0, neg) < several


def test_positive_mask_marks_exactly_the_training_positives() -> None:
    snap = block_snapshot(density=0.5)
    m = snap.matrix("ones").tocsr()
    sampler = NegativeSampler(m, np.random.default_rng(0))
    users = np.array([0, 5, 5, 20, 35])
    items = sampler.shared(40)
    assert items.shape == (40,) and items.min() >= 0 and items.max() < snap.n_items
    mask = sampler.positive_mask(users, items)
    assert mask.shape == (5, 40)
    np.testing.assert_array_equal(mask, m[users][:, items].toarray() > 0)
    assert mask.any() and not mask.all()
