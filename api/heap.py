"""The API's long-lived objects kept out of the cyclic garbage collector's full scans.

Why: a worker holds a few million long-lived objects (the catalogue view, the co-interaction index's
lookups, the model's id maps), and every refresh allocates a new catalogue view's worth. That
triggered full (generation 2) collections every few seconds while a refresh ran, each 300-400 ms
long, collecting nothing, and holding the GIL: the request loop stood still (measured: open-loop p99
of 2.6 s at half the saturation rate, with the catalogue refreshing every 5 s). ``gc.freeze`` moves
what exists now into a generation the collector never scans; objects released later are still freed
by reference counting (the views are acyclic), and new ones are collected as usual.

Only a served worker does this (``api.server.server_config`` marks its app): it changes the whole
process's collector, which an app built in-process by a test must leave alone.
"""

from __future__ import annotations

import gc

# Objects allocated (less freed) before a young collection: Python's default is 700. A refresh reads
# hundreds of thousands of rows as small lists before it builds anything, and at 700 each read
# promoted them through the generations until full collections scanned them again and again.
YOUNG_THRESHOLD = 100_000


def settle_heap(*, collect: bool = False) -> None:
    """Freeze the objects alive now (after startup: ``collect`` first, and the young threshold raised;
    after each refresh: only the freeze)."""
    if collect:
        gc.collect()
        _, middle, old = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.freeze()
