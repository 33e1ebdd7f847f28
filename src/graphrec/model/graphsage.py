"""GraphSAGE encoder for the bipartite user-item graph, with learnable id embeddings.

Per layer (PyG ``SAGEConv`` parameters: ``lin_l`` for neighbours, ``lin_r`` for the node itself)::

    h_v^{l+1} = act( (I + W_l) · sum_u a_vu h_u^l + b + W_r · h_v^l )

where ``a_vu`` are the normalised edge-weight coefficients of ``BipartiteAdjacency``. Layer 0 is the
id embedding (items add a projection of their category multi-hot). The final embedding combines
layers (``mean`` over ``h^0..h^L`` like LightGCN, or ``last``) and a user-item score is the dot
product. Message passing is a sparse CSR product, not gather/scatter over ``edge_index`` (several
times faster for full-graph passes on CPU); ``layer_step`` is shared by the full pass, the sampled
pass and inductive inference so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import SAGEConv

from graphrec.model.config import EncoderConfig


class GraphSAGERec(nn.Module):
    """GraphSAGE over users and items.

    Args:
        n_users, n_items: node counts (id embedding tables).
        n_features: width of the item feature multi-hot (0: none).
        config: depth, width, aggregation, layer combination, activation.
        sparse_embeddings: id tables produce sparse gradients (sampled training: an optimiser step then
            touches only the batch's rows instead of every node's).

    Shapes:
        ``forward(adjacency_fn, item_features)`` -> ``(n_users + n_items, dim)``.
    """

    def __init__(
        self, n_users: int, n_items: int, n_features: int, config: EncoderConfig, *, sparse_embeddings: bool = False
    ) -> None:
        super().__init__()
        self.n_users = n_users
        self.n_items = n_items
        self.config = config
        dim = config.dim
        self.user_embedding = nn.Embedding(n_users, dim, sparse=sparse_embeddings)
        self.item_embedding = nn.Embedding(n_items, dim, sparse=sparse_embeddings)
        self.feature_proj = nn.Linear(n_features, dim, bias=False) if n_features > 0 and config.use_features else None
        self.convs = (
            nn.ModuleList(SAGEConv(dim, dim, aggr="mean", root_weight=True, bias=True) for _ in range(config.layers))
            if config.linear
            else nn.ModuleList()
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small normal id embeddings; SAGE maps start near zero (the layer starts as propagation).

        Starting from plain propagation (LightGCN) and letting the maps learn away from it trains
        much more reliably on sparse implicit feedback than a random projection per layer.
        """
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        if self.feature_proj is not None:
            nn.init.normal_(self.feature_proj.weight, std=0.01)
        for conv in self.convs:
            assert isinstance(conv, SAGEConv)
            with torch.no_grad():
                conv.lin_l.weight.normal_(std=0.01)
                if conv.lin_l.bias is not None:
                    conv.lin_l.bias.zero_()
                conv.lin_r.weight.normal_(std=0.01)

    # ------------------------------------------------------------------ building blocks
    def ego(self, item_features: torch.Tensor | None) -> torch.Tensor:
        """Layer-0 representations of all nodes (users then items)."""
        items = self.item_embedding.weight
        if self.feature_proj is not None and item_features is not None:
            items = items + self.feature_proj(item_features)
        return torch.cat([self.user_embedding.weight, items], dim=0)

    def item_ego(self, items: torch.Tensor, item_features: torch.Tensor | None) -> torch.Tensor:
        """Layer-0 representations of some items."""
        h: torch.Tensor = self.item_embedding(items)
        if self.feature_proj is not None and item_features is not None:
            h = h + self.feature_proj(item_features[items])
        return h

    def layer_step(self, layer: int, h_self: torch.Tensor, aggregated: torch.Tensor) -> torch.Tensor:
        """``h^{l+1}`` from the node's own ``h^l`` and its aggregated neighbourhood ``sum a h^l``."""
        if self.config.linear:
            conv = self.convs[layer]
            assert isinstance(conv, SAGEConv)
            out: torch.Tensor = aggregated + conv.lin_l(aggregated) + conv.lin_r(h_self)
        else:
            out = aggregated
        if self.config.activation == "tanh":
            out = torch.tanh(out)
        elif self.config.activation == "relu":
            out = torch.relu(out)
        return out

    def combine(self, layers: list[torch.Tensor]) -> torch.Tensor:
        """Final embedding from ``[h^0, ..., h^L]``."""
        if self.config.combine == "last":
            total = layers[-1]
        else:
            total = layers[0]
            for h in layers[1:]:
                total = total + h
            total = total / len(layers)
        if self.config.normalize:
            total = F.normalize(total, dim=-1)
        return total

    # ------------------------------------------------------------------ passes
    def layer_outputs(
        self,
        propagate: Callable[[torch.Tensor], torch.Tensor],
        item_features: torch.Tensor | None,
        ego: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """``[h^0, ..., h^L]`` for every node with a full-graph ``propagate`` (``A @ x``)."""
        h = self.ego(item_features) if ego is None else ego
        outs = [h]
        for layer in range(self.config.layers):
            h = self.layer_step(layer, h, propagate(h))
            outs.append(h)
        return outs

    def forward(
        self,
        propagate: Callable[[torch.Tensor], torch.Tensor],
        item_features: torch.Tensor | None,
        ego: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final embeddings of all nodes, ``(n_users + n_items, dim)``."""
        return self.combine(self.layer_outputs(propagate, item_features, ego))

    def get_embedding(
        self,
        propagate: Callable[[torch.Tensor], torch.Tensor],
        item_features: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(user_embeddings, item_embeddings)`` without gradients, for serving and evaluation."""
        with torch.no_grad():
            out = self.forward(propagate, item_features)
        return out[: self.n_users], out[self.n_users :]
