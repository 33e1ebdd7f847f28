"""SparseProduct's hand-written backward equals autograd through a dense product."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from graphrec.model.adjacency import BipartiteAdjacency
from graphrec.model.sparse_ops import csr_pair, spmm


def test_backward_matches_dense_autograd() -> None:
    rng = np.random.default_rng(0)
    m = sp.random(30, 20, density=0.2, random_state=1, format="csr", dtype=np.float32)
    pair = csr_pair(m)
    x = torch.from_numpy(rng.normal(size=(20, 4)).astype(np.float32)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    g = torch.from_numpy(rng.normal(size=(30, 4)).astype(np.float32))
    (spmm(x, pair) * g).sum().backward()
    (torch.from_numpy(m.toarray()) @ x_ref * g).sum().backward()
    assert x.grad is not None and x_ref.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_adjacency_normalisations() -> None:
    r = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]], dtype=np.float32))
    du, di = np.array([3.0, 2.0]), np.array([1.0, 3.0, 1.0])
    for aggr in ("sym", "mean", "sum"):
        adj = BipartiteAdjacency(r, aggr=aggr)
        dense = adj.block.toarray()
        if aggr == "sym":
            expected = r.toarray() / np.sqrt(du[:, None] * di[None, :])
            np.testing.assert_allclose(dense, dense.T, rtol=1e-6)
        elif aggr == "mean":
            expected = r.toarray() / du[:, None]
            np.testing.assert_allclose(dense[2:, :2], (r.toarray() / di[None, :]).T, rtol=1e-6)
        else:
            expected = r.toarray()
        np.testing.assert_allclose(dense[:2, 2:], expected, rtol=1e-6)
        np.testing.assert_allclose(adj.user_coefficients(r[0].indices, r[0].data), expected[0, r[0].indices], rtol=1e-6)
