"""The new lists' in-memory costs: building the bought-together index, and one request of each list.

    python bench/new_lists.py [--edges 300000] [--actors 60000] [--items 20000] [--seed 0] [--repeat 3]

Prints one JSON object. ``--edges`` basket edges (one per actor and item, Zipf-popular items, a tenth of
them from browser clients, some clients flooding) go through ``BoughtTogetherIndex.build``, what the API's
background refresh runs after the store's basket read (the read itself is the paged edge read
``bench/export.py`` measures). Then, best of ``--repeat``: the ranking and picking of one
bought-together page for a popular item and for a 10-item cart, one new-arrivals page over a catalogue
view of ``--items`` listed items (the first, which sorts the view's newest order, and a later one), all
with k=20 and no filters. No store, no HTTP: the figures are what each adds to a request's CPU.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from graphrec.graph.records import CatalogueItem, InteractionPage
from graphrec.recommend.bought_together import BoughtTogetherIndex, pick
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.new_arrivals import new_arrivals
from graphrec.recommend.popular import CatalogView


def _edges(n: int, actors: int, items: int, rng: np.random.Generator) -> InteractionPage:
    actor = rng.integers(0, actors, n)
    item = np.minimum(rng.zipf(1.3, n) - 1, items - 1)
    pairs = np.unique(actor * items + item)
    actor, item = pairs // items, pairs % items
    clients = np.where(rng.random(len(pairs)) < 0.1, np.char.add("c", (actor % 500).astype(str)), "")
    return InteractionPage(
        np.char.add("u", actor.astype(str)).astype(object),
        np.char.add("i", item.astype(str)).astype(object),
        rng.uniform(0.5, 3.0, len(pairs)),
        rng.integers(1_700_000_000_000, 1_700_100_000_000, len(pairs)),
        clients.astype(object),
    )


def _best(repeat: int, fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=300_000)
    ap.add_argument("--actors", type=int, default=60_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    edges = _edges(args.edges, args.actors, args.items, rng)
    index: BoughtTogetherIndex | None = None

    def build() -> None:
        nonlocal index
        index = BoughtTogetherIndex.build(edges, built_ms=0, actors_per_client=3)

    build_s = _best(args.repeat, build)
    assert index is not None
    view = CatalogView(listed={f"i{k}": int(t) for k, t in enumerate(rng.integers(0, 10**12, args.items))})
    view = view.with_items([CatalogueItem(f"i{k}", f"Item {k}") for k in range(args.items)])
    anyone = ListFilter()
    cart = [f"i{k}" for k in range(10)]
    one_s = _best(args.repeat, lambda: pick(index.ranked(["i0"]), view, anyone, k=20, leave_out=()))  # type: ignore[union-attr]
    cart_s = _best(args.repeat, lambda: pick(index.ranked(cart), view, anyone, k=20, leave_out=()))  # type: ignore[union-attr]
    started = time.perf_counter()
    new_arrivals(view, anyone, k=20, leave_out=(), half_life_days=30.0)
    first_new_s = time.perf_counter() - started
    new_s = _best(args.repeat, lambda: new_arrivals(view, anyone, k=20, leave_out=(), half_life_days=30.0))
    result = {
        "basket_edges": len(edges.item_ids),
        "index_pairs": index.pairs,
        "build_s": round(build_s, 3),
        "bought_together_item_ms": round(one_s * 1000, 3),
        "bought_together_cart10_ms": round(cart_s * 1000, 3),
        "new_arrivals_first_page_ms": round(first_new_s * 1000, 3),
        "new_arrivals_page_ms": round(new_s * 1000, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
