"""Validated hyperparameters for the GraphSAGE recommender (read from TOML/YAML by ``training/``).

One pydantic model per concern: ``EncoderConfig`` shapes the network, ``TrainConfig`` the
optimisation. Defaults are the values tuned on MovieLens-100K (80/20 random per-user split).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import torch


class EncoderConfig(BaseModel):
    """Shape of ``GraphSAGERec``.

    ``aggr``: ``sym`` (``w_uv / sqrt(d_u d_v)``), ``mean`` (weighted mean) or ``sum``;
    ``combine``: how layer outputs form the final embedding (``mean`` of all layers incl. the id
    embedding, as LightGCN, or ``last``).
    """

    model_config = ConfigDict(extra="forbid")

    dim: int = Field(64, ge=2, le=1024)
    layers: int = Field(2, ge=0, le=6)
    aggr: Literal["sym", "mean", "sum"] = "sym"
    combine: Literal["mean", "last"] = "mean"
    linear: bool = Field(True, description="SAGE linear maps per layer (False: parameter-free propagation)")
    activation: Literal["none", "tanh", "relu"] = "none"
    normalize: bool = Field(
        False,
        description="L2-normalise the final embeddings, so a user-item score is their cosine "
        "(trained, evaluated and served alike)",
    )
    use_features: bool = Field(
        True, description="add a projection of item content (categories, title text) to item id embeddings"
    )


class ContentConfig(BaseModel):
    """Item content features (:mod:`graphrec.model.content`): the title text vectoriser beside the categories."""

    model_config = ConfigDict(extra="forbid")

    text: bool = Field(True, description="use item titles where the snapshot has them (False: categories only)")
    text_dim: int = Field(64, ge=1, le=512, description="dimensions the titles' TF-IDF is reduced to (truncated SVD)")
    ngrams: int = Field(2, ge=1, le=3, description="word n-grams up to this length")
    min_df: int = Field(1, ge=1, description="a term must occur in at least this many titles")
    max_terms: int = Field(50_000, ge=16, description="vocabulary bound: the most frequent terms")


class TrainConfig(BaseModel):
    """Optimisation, sampling and early stopping."""

    model_config = ConfigDict(extra="forbid")

    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    content: ContentConfig = Field(
        default_factory=ContentConfig, description="item features from titles and categories (encoder.use_features)"
    )
    seed: int = 0
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(8192, ge=16)
    lr: float = Field(1e-2, gt=0)
    reg: float = Field(1e-4, ge=0, description="L2 on the batch's id embeddings (LightGCN-style)")
    weight_decay: float = Field(
        5e-2,
        ge=0,
        description="L2 on the layer weights' offsets from plain propagation (Adam weight_decay; see GraphSAGERec)",
    )
    loss: Literal["bpr", "softmax"] = Field(
        "bpr",
        description="bpr: -log sigmoid(s_pos - s_neg) per (positive, negative) pair, `negatives` per positive "
        "drawn per user, `hard_negatives` of them hard; softmax: sampled softmax of each positive against "
        "`negatives` uniform items the batch shares, at `temperature` (graphrec.model.losses; best with "
        "encoder.normalize, negatives 256, temperature 0.2, which on ML-100K validation tied BPR: README ablation)",
    )
    negatives: int = Field(
        1, ge=1, le=65_536, description="negatives per positive (bpr: drawn per user; softmax: shared by the batch)"
    )
    temperature: float = Field(
        0.2, gt=0, description="softmax temperature: scores (cosines with encoder.normalize) are divided by it"
    )
    hard_negatives: float = Field(
        0.3,
        ge=0,
        le=1,
        description="bpr: fraction of negatives chosen hard (the softmax already weighs the hard ones most)",
    )
    hard_candidates: int = Field(8, ge=1, description="uniform candidates a hard negative is picked from")
    user_id_dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="zero user id embeddings at this rate, so "
        "embeddings from neighbourhoods alone (new users) are trained too",
    )
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    validation_protocol: Literal["random", "temporal"] = Field(
        "random",
        description="how the early-stopping holdout is cut from the training edges: each user's "
        "random edges, or their most recent ones. Set by the caller to its test split's protocol, so "
        "early stopping judges the model on the task it is tested on: graphrec train always validates "
        "temporal (its test is each user's newest interactions), graphrec evaluate as --protocol",
    )
    eval_every: int = Field(5, ge=1)
    patience: int = Field(4, ge=1, description="evaluations without improvement before stopping")
    metric_k: int = Field(20, ge=1)
    checkpoint_every: int = Field(
        5,
        ge=1,
        description="epochs between checkpoints when the trainer is given a "
        "checkpoint directory (graphrec train --checkpoint-dir)",
    )
    refit: bool = Field(
        True, description="after early stopping, retrain on train+validation for the best number of epochs"
    )
    mode: Literal["auto", "full", "sampled"] = "auto"
    full_graph_max_edges: int = Field(5_000_000, ge=1, description="auto mode switches to sampling above")
    steps_per_epoch: int | None = Field(
        None,
        ge=1,
        description="cap on batches per epoch (None: one pass over all edges); fixed-size epochs for very large graphs",
    )
    fanouts: list[int] = Field(default_factory=lambda: [15, 10], description="neighbours sampled per layer")
    threads: int | Literal["auto"] | None = Field(
        "auto",
        description="torch intra-op threads. 'auto': half the CPUs this process may use (at least "
        "1), because torch's default (all of them) collapses when anything else is busy: on 2 cores with a "
        "second CPU-bound process, an ML-100K epoch took 1.02 s with 2 threads and 0.31 s with 1 (0.27 s "
        "vs 0.32 s when idle). None: torch's default; a number: exactly that many",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="where training runs. 'auto': the first CUDA GPU when torch sees one, else the CPU; "
        "'cpu'; 'cuda' (refused with a clear error when torch sees no GPU). The trained model always comes back "
        "to the CPU, where serving and inductive inference run",
    )


def resolve_threads(threads: int | Literal["auto"] | None) -> int | None:
    """The intra-op thread count ``threads`` stands for (None: leave torch's own setting alone)."""
    if threads != "auto":
        return threads
    return max(1, len(os.sched_getaffinity(0)) // 2)


def resolve_device(device: Literal["auto", "cpu", "cuda"]) -> torch.device:
    """The torch device ``device`` stands for; 'cuda' without a usable GPU is an error, not a silent CPU run."""
    import torch  # here, so reading a config does not load torch

    if device == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        built = torch.version.cuda or "none"
        raise ValueError(
            f"device 'cuda' was asked for but torch {torch.__version__} (CUDA build: {built}) sees no "
            "usable GPU; use device = 'cpu' or 'auto'"
        )
    return torch.device("cuda" if available else "cpu")
