"""Layer-wise neighbour sampling over CSR with vectorised torch/numpy ops (no pyg-lib/torch-sparse).

For graphs too big for full-graph passes, a batch's nodes are expanded hop by hop: each target keeps
all its neighbours when it has at most ``fanout`` of them, else ``fanout`` drawn uniformly with
replacement, rescaled by ``degree / fanout`` so the weighted sum stays unbiased. Frontiers are
nested prefixes (targets first), so a layer's own-node rows are ``h[:n_targets]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from graphrec.model.sparse_ops import csr_pair


@dataclass(frozen=True)
class Block:
    """One hop: ``pair`` maps ``n_sources`` source rows to ``n_targets`` target rows."""

    pair: tuple[torch.Tensor, torch.Tensor]
    n_targets: int
    n_sources: int


class NeighborSampler:
    """Samples computation blocks from the normalised adjacency.

    Args:
        adjacency: ``(n_nodes, n_nodes)`` scipy CSR with the aggregation coefficients.
        fanouts: neighbours per layer, outermost (closest to the targets) first.
        rng: numpy generator.
    """

    def __init__(self, adjacency: sp.csr_matrix, fanouts: list[int], rng: np.random.Generator) -> None:
        self.adj = adjacency.tocsr()
        self.degree = np.diff(self.adj.indptr)
        self.fanouts = fanouts
        self.rng = rng

    def _sample_hop(self, targets: np.ndarray, fanout: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        deg = self.degree[targets]
        take = np.minimum(deg, fanout)
        owner = np.repeat(np.arange(len(targets)), take)
        starts = np.repeat(self.adj.indptr[targets], take)
        within = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
        sampled = deg[owner] > fanout
        offsets = np.where(sampled, (self.rng.random(len(owner)) * deg[owner]).astype(np.int64), within)
        edge = starts + offsets
        scale = np.where(sampled, deg[owner] / np.maximum(take[owner], 1), 1.0)
        return owner, self.adj.indices[edge].astype(np.int64), self.adj.data[edge] * scale

    def sample(self, nodes: np.ndarray) -> tuple[np.ndarray, list[Block]]:
        """Frontier of all nodes whose layer-0 input is needed, and blocks innermost-first.

        Returns ``(input_nodes, blocks)``; ``blocks[0]`` consumes ``input_nodes``' representations and
        ``blocks[-1]`` produces the representations of ``nodes`` (same order as given, deduplicated).
        """
        targets = np.asarray(nodes, dtype=np.int64)
        blocks: list[Block] = []
        for fanout in self.fanouts:
            owner, neigh, coef = self._sample_hop(targets, fanout)
            extra = np.setdiff1d(np.unique(neigh), targets, assume_unique=False)
            sources = np.concatenate([targets, extra])
            position = np.empty(0, dtype=np.int64)
            lookup_keys = np.argsort(sources)
            position = lookup_keys[np.searchsorted(sources[lookup_keys], neigh)]
            m = sp.csr_matrix((coef.astype(np.float32), (owner, position)), shape=(len(targets), len(sources)))
            blocks.append(Block(pair=csr_pair(m), n_targets=len(targets), n_sources=len(sources)))
            targets = sources
        return targets, blocks[::-1]
