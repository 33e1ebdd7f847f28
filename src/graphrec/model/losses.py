"""Ranking losses over a positive and its sampled negatives, and the L2 term on the id embeddings a batch touched."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: ``-mean log sigmoid(s_pos - s_neg)`` (Rendle et al. 2009).

    Shapes: ``pos_scores`` ``(B,)``, ``neg_scores`` ``(B,)`` or ``(B, N)`` (every pair counts once).
    """
    if neg_scores.dim() == 2:
        pos_scores = pos_scores[:, None]
    return -F.logsigmoid(pos_scores - neg_scores).mean()


def softmax_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """Sampled softmax: ``-mean log( e^{s_pos/t} / (e^{s_pos/t} + sum_j e^{s_neg_j/t}) )``.

    Why: one BPR pair pushes on one negative at a time, equally hard or easy; the softmax over ``N``
    negatives spends its gradient on the negatives that score highest (more so at a lower temperature
    ``t``), which approximates a full-catalogue ranking loss and is what lifts LightGCN-like encoders
    most on top-K recall (Wu et al. 2023, "On the effectiveness of sampled softmax loss").

    Shapes: ``pos_scores`` ``(B,)``, ``neg_scores`` ``(B, N)`` -> scalar.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    pos = pos_scores / temperature
    # log(e^pos + sum e^neg) without concatenating a (B, N + 1) copy of the scores
    normaliser = torch.logaddexp(pos, torch.logsumexp(neg_scores / temperature, dim=1))
    return (normaliser - pos).mean()


def embedding_l2(*embeddings: torch.Tensor) -> torch.Tensor:
    """``sum ||e||^2 / (2 * batch)``: LightGCN's regulariser on the batch's layer-0 embeddings.

    ``batch`` is the first tensor's row count (the users), so positives and negatives may come stacked.
    """
    batch = max(embeddings[0].shape[0], 1)
    return sum((e.pow(2).sum() for e in embeddings), embeddings[0].new_zeros(())) / (2 * batch)
