"""In-process co-interaction index: the capped traversal of :mod:`graphrec.scoring.traversal`, in memory.

Why: the same traversal in Cypher costs 5-20 ms per request on the embedded store (every path is
expanded by the query engine), over the serving budget of a few milliseconds. The index holds a
:class:`~graphrec.scoring.traversal.CoGraph` (the graph sorted the way the caps read it, and every
seed's ``co_items`` best co-items), so a request touches ``seeds x co_items`` entries. The rule set
(which seeds, which co-users, which items, degree, dislikes) is written once, in that module; the
store's Cypher implements the same rules and a test checks both against one specification.

Seeds (the user's recent liked items and their decayed weights, :func:`select_seeds`) come from the
caller, read live from the store, so a user's newest events count immediately; co-users' edges are
as fresh as the last refresh (``Settings.cograph_refresh_s``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from graphrec import clock
from graphrec.graph.records import Candidate, InteractionPage
from graphrec.scoring.traversal import CoGraph, gather, rank_sums, strongest_seeds


@dataclass(frozen=True, slots=True)
class GraphCandidates:
    """Traversal candidates as columns, best first, with each one's evidence on request."""

    ids: np.ndarray  # str
    scores: np.ndarray  # float64
    evidence: Callable[[str], tuple[str, ...]]  # the seen items that led to a candidate, strongest first

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> GraphCandidates:
        return cls(np.zeros(0, dtype=str), np.zeros(0), lambda _item: ())

    @classmethod
    def from_list(cls, candidates: Sequence[Candidate]) -> GraphCandidates:
        """The store traversal's records (evidence already computed) in the same form."""
        evidence = {c.item_id: c.evidence for c in candidates}
        return cls(
            np.array([c.item_id for c in candidates], dtype=str),
            np.array([c.score for c in candidates], dtype=np.float64),
            lambda item: evidence.get(item, ()),
        )


@dataclass(frozen=True, slots=True)
class _Paths:
    """One request's scored paths (candidate, seed position, score), kept to explain candidates."""

    index: CoInteractionIndex
    cand: np.ndarray
    seed_pos: np.ndarray
    score: np.ndarray
    seeds: np.ndarray

    def evidence(self, item_id: str) -> tuple[str, ...]:
        k = self.index.item_lookup.get(item_id)
        if k is None:
            return ()
        on = self.cand == k
        return strongest_seeds(self.seed_pos[on], self.score[on], self.index.item_ids[self.seeds])


@dataclass(frozen=True)
class CoInteractionIndex:
    user_ids: np.ndarray
    item_ids: np.ndarray
    graph: CoGraph
    user_lookup: dict[str, int]
    item_lookup: dict[str, int]
    built_at_ms: int

    @property
    def edges(self) -> int:
        return len(self.graph.u_items)

    @property
    def fanout(self) -> int:
        return self.graph.fanout

    @classmethod
    def from_pages(
        cls, pages: Iterable[InteractionPage], *, built_at_ms: int | None = None, fanout: int = 50, co_items: int = 400
    ) -> CoInteractionIndex:
        edges = InteractionPage.concat(list(pages))
        return cls.from_arrays(
            edges.user_ids, edges.item_ids, edges.weights, built_at_ms=built_at_ms, fanout=fanout, co_items=co_items
        )

    @classmethod
    def from_arrays(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray,
        *,
        built_at_ms: int | None = None,
        fanout: int = 50,
        co_items: int = 400,
    ) -> CoInteractionIndex:
        user_ids, u = np.unique(users.astype(str), return_inverse=True)
        item_ids, i = np.unique(items.astype(str), return_inverse=True)
        graph = CoGraph.build(
            u, i, weights, n_users=len(user_ids), n_items=len(item_ids), fanout=fanout, co_items=co_items
        )
        return cls(
            user_ids=user_ids,
            item_ids=item_ids,
            graph=graph,
            user_lookup={x: k for k, x in enumerate(user_ids.tolist())},
            item_lookup={x: k for k, x in enumerate(item_ids.tolist())},
            built_at_ms=clock.now_ms() if built_at_ms is None else built_at_ms,
        )

    def candidates_for_user(
        self, *, seeds: Sequence[tuple[str, float]], limit: int = 100, exclude: Iterable[str] = ()
    ) -> GraphCandidates:
        """Candidates from ``seeds`` (item id, decayed weight: :func:`~graphrec.scoring.traversal.select_seeds`);
        ``exclude`` holds every item the user has an edge to. Only positive scores are candidates.

        Evidence (each candidate's strongest seeds) is computed on demand: most responses explain nothing.
        """
        lookup = self.item_lookup
        known = [(lookup[i], w) for i, w in seeds if i in lookup]
        if not known:
            return GraphCandidates.empty()
        seed_idx = np.array([k for k, _ in known], dtype=np.int64)
        seed_w = np.array([w for _, w in known], dtype=np.float64)
        cand, seed_pos, score = self.graph.paths(seed_idx, seed_w)
        excluded = np.array([lookup[i] for i in exclude if i in lookup], dtype=np.int64)
        top, sums = rank_sums(cand, score, np.concatenate([excluded, seed_idx]), limit, len(self.item_ids))
        paths = _Paths(self, cand, seed_pos, score, seed_idx)
        return GraphCandidates(self.item_ids[top], sums, paths.evidence)

    def candidates_for_item(self, *, item_id: str, limit: int = 50, fanout: int = 50) -> list[Candidate]:
        """Items sharing likers with ``item_id``: ``w(v, s) * w(v, c) / sqrt(deg(s) * deg(c))`` over the
        ``fanout`` strongest likers ``v`` of ``s`` and each one's ``fanout`` strongest edges."""
        s = self.item_lookup.get(item_id)
        g = self.graph
        if s is None or g.item_degree[s] == 0:
            return []
        pos1, _ = gather(g.i_indptr, np.array([s], dtype=np.int64), fanout)
        co_users = g.i_users[pos1].astype(np.int64)
        w1 = g.i_weights[pos1]
        pos2, owner2 = gather(g.u_indptr, co_users, fanout)
        cand = g.u_items[pos2].astype(np.int64)
        keep = (cand != s) & (g.item_degree[cand] > 0)
        cand, owner2, w2 = cand[keep], owner2[keep], g.u_weights[pos2][keep]
        score = w1[owner2] * w2 / np.sqrt(g.item_degree[s] * g.item_degree[cand])
        top, sums = rank_sums(cand, score, np.zeros(0, dtype=np.int64), limit, len(self.item_ids))
        return [
            Candidate(item, total, (item_id,))
            for item, total in zip(self.item_ids[top].tolist(), sums.tolist(), strict=True)
            if total > 0
        ]
