"""BPR loss and the L2 term on the id embeddings a batch touched."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: ``-mean log sigmoid(s_pos - s_neg)`` (Rendle et al. 2009)."""
    return -F.logsigmoid(pos_scores - neg_scores).mean()


def embedding_l2(*embeddings: torch.Tensor) -> torch.Tensor:
    """``sum ||e||^2 / (2 * batch)``: LightGCN's regulariser on the batch's layer-0 embeddings.

    ``batch`` is the first tensor's row count (the users), so positives and negatives may come stacked.
    """
    batch = max(embeddings[0].shape[0], 1)
    return sum((e.pow(2).sum() for e in embeddings), embeddings[0].new_zeros(())) / (2 * batch)
