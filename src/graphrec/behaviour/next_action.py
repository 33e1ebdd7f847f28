"""What a user is likely to look at next: a first-order Markov chain over the categories of session sequences.

Why categories and first order: a category-level chain is small (categories x categories), fits in seconds
from the whole log window and generalises across items nobody has followed yet; the question it answers
("after Comedy, what next?") is what a page layout or a session-based candidate source needs. Items are
too sparse for first-order counts over a few weeks of sessions.

Definitions (fitted by :func:`fit_next_action` from :class:`~graphrec.events.log.EventColumns`):

- **steps**: a session's events in time order (sessions as in :mod:`graphrec.behaviour.profiles`: a new
  session id or 30 idle minutes), with consecutive events on the same item merged into one step (a view,
  click and dwell on one item are one visit). Bot-flagged events are left out by the caller.
- **categories of a step**: the categories of its item (the catalogue's); an item in ``n`` categories
  counts ``1/n`` for each, an item without categories is skipped (the chain jumps over it).
- **transitions**: each step to the next step of the same session; ``C[i, j]`` sums
  ``share(a, i) * share(b, j)`` over consecutive steps ``a -> b``.
- **popularity**: ``pi[j] = (visits of j + 1) / (steps + K)``, the share of category visits with one
  pseudo-visit each, so every known category has some probability.
- **smoothing** (additive, toward popularity): ``P(j | i) = (C[i, j] + alpha * pi[j]) / (sum_j C[i, j] +
  alpha)``. Each row sums to 1; a category never left in the window (row sum 0) answers ``pi`` itself; a
  rarely left one leans on ``pi`` with the weight of ``alpha`` transitions.
- **prediction** from the user's last event: the mix of its item's category rows (shares as above); the
  popularity when the user has no event, or the item no known category (``basis`` says which).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse

from graphrec.behaviour.profiles import session_starts
from graphrec.events.log import EventColumns

Basis = Literal["transitions", "popularity"]


@dataclass(frozen=True, slots=True)
class NextCategories:
    """A prediction: the likely next categories with their probabilities (best first), what it rests on."""

    categories: list[tuple[str, float]]
    basis: Basis
    current: tuple[str, ...] = ()  # the categories of the item the prediction starts from


@dataclass(frozen=True, slots=True)
class NextActionModel:
    """A fitted chain: ``counts[i, j]`` transitions from category ``categories[i]`` to ``categories[j]``."""

    categories: tuple[str, ...] = ()
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    smoothing: float = 1.0
    steps: int = 0
    transitions: float = 0.0
    sessions: int = 0
    fitted_ms: int = 0

    def probabilities(self, category: str) -> np.ndarray:
        """``P(next | category)`` over :attr:`categories` (the popularity for a category never left)."""
        i = self.categories.index(category)
        row = self.counts[i]
        total = float(row.sum())
        if total + self.smoothing <= 0:
            return self.popularity.copy()
        out: np.ndarray = (row + self.smoothing * self.popularity) / (total + self.smoothing)
        return out

    def predict(self, current: Sequence[str], *, k: int = 5) -> NextCategories:
        """The ``k`` likeliest next categories after an item in categories ``current`` (module docstring)."""
        known = [c for c in dict.fromkeys(current) if c in self.categories]
        if not self.categories:
            return NextCategories([], "popularity", tuple(current))
        if known:
            mixed = np.mean([self.probabilities(c) for c in known], axis=0)
            left = any(self.counts[self.categories.index(c)].sum() > 0 for c in known)
            basis: Basis = "transitions" if left else "popularity"
        else:
            mixed, basis = self.popularity, "popularity"
        order = np.lexsort((np.arange(len(mixed)), -mixed))[:k]
        return NextCategories([(self.categories[j], float(mixed[j])) for j in order.tolist()], basis, tuple(current))


def _item_shares(
    items: Sequence[str], item_categories: Mapping[str, Sequence[str]]
) -> tuple[tuple[str, ...], sparse.csr_matrix]:
    """(categories, ``(n_items, n_categories)`` matrix of each item's category shares, rows summing to 1 or 0)."""
    names = sorted({c for item in items for c in item_categories.get(item, ())})
    index = {c: j for j, c in enumerate(names)}
    rows, cols, vals = [], [], []
    for r, item in enumerate(items):  # per distinct item, not per event
        cats = list(dict.fromkeys(item_categories.get(item, ())))
        for c in cats:
            rows.append(r)
            cols.append(index[c])
            vals.append(1.0 / len(cats))
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(items), len(names)))
    return tuple(names), matrix


def fit_next_action(
    cols: EventColumns, item_categories: Mapping[str, Sequence[str]], *, smoothing: float = 1.0, fitted_ms: int = 0
) -> NextActionModel:
    """Fit the chain on ``cols`` (ordered by actor, then time, as the log returns them)."""
    if smoothing < 0:
        raise ValueError("smoothing must be >= 0")
    categories, shares = _item_shares(cols.items, item_categories)
    if len(cols) == 0 or not categories:
        return NextActionModel(
            categories,
            np.zeros((len(categories), len(categories))),
            np.full(len(categories), 1.0 / max(len(categories), 1)),
            smoothing,
            fitted_ms=fitted_ms,
        )
    starts = session_starts(cols)
    session = np.cumsum(starts) - 1
    categorised = np.asarray(shares.sum(axis=1)).ravel()[cols.item] > 0
    # a step: the first event of a run on one item within a session; items without a category drop out
    new_item = np.r_[True, (cols.item[1:] != cols.item[:-1]) | (session[1:] != session[:-1])]
    keep = categorised & new_item
    step_item, step_session = cols.item[keep], session[keep]
    # a merge can leave two steps on one item (a, uncategorised, a): merge those too
    again = np.r_[False, (step_item[1:] == step_item[:-1]) & (step_session[1:] == step_session[:-1])]
    step_item, step_session = step_item[~again], step_session[~again]
    visits = np.asarray(shares[step_item].sum(axis=0)).ravel()
    popularity = (visits + 1.0) / (len(step_item) + len(categories))
    follows = np.flatnonzero(step_session[1:] == step_session[:-1])
    counts = (shares[step_item[follows]].T @ shares[step_item[follows + 1]]).toarray()
    return NextActionModel(
        categories,
        counts,
        popularity,
        smoothing,
        steps=len(step_item),
        transitions=float(counts.sum()),
        sessions=int(len(np.unique(step_session))),
        fitted_ms=fitted_ms,
    )
