"""GDS-FastRP-kNN: the well-known Neo4j recommendation recipe as an evaluation baseline.

FastRP node embeddings over the (undirected, weighted) user-item graph, then kNN over the item
embeddings (cosine); a user's score for an item is the sum of its kNN similarities to the items the
user interacted with, i.e. ItemKNN with FastRP similarities. The computing happens inside Neo4j
(:class:`graphrec.graph.neo4j_gds.GdsClient`); only the similarity lists come back.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graphrec.graph.neo4j_gds import FastRPConfig, GdsClient
from graphrec.snapshot import Snapshot


class GdsFastRPKnn:
    name = "GDS-FastRP-kNN"

    def __init__(self, gds: GdsClient, cfg: FastRPConfig | None = None) -> None:
        self.gds = gds
        self.cfg = cfg or FastRPConfig()
        self._user_items = sp.csr_matrix((0, 0))
        self._similarity = sp.csr_matrix((0, 0))

    def fit(self, train: Snapshot) -> None:
        weights = train.matrix("weights").tocoo()
        keep = weights.data > 0  # dislikes are not similarity evidence
        a, b, sim = self.gds.item_knn(
            weights.row[keep], weights.col[keep], weights.data[keep], n_users=train.n_users, cfg=self.cfg
        )
        self._similarity = sp.csr_matrix((sim.astype(np.float32), (a, b)), shape=(train.n_items, train.n_items))
        self._user_items = train.matrix("ones")

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self._user_items[users] @ self._similarity).todense(), dtype=np.float32)
