"""How a graphrec process ends: its long-lived heap is left to the operating system.

Why: at exit the interpreter tears its modules down and runs the cyclic garbage collector over the whole
heap several times; with torch, torch_geometric, scipy and the web app imported that is millions of
objects, and a process that had finished its work took 1-3 s of CPU (7-11 s on a loaded 2-core box,
measured for ``import api.main``) more to disappear: every API restart, every worker a supervisor replaces,
every CLI job paid it. One collection first still finalizes whatever is already garbage (an unclosed
file, a connection); :func:`gc.freeze` then moves the live objects out of the collector's reach, so the
passes of the shutdown skip them. Their memory goes back with the process, as it would anyway. Files and
connections are closed by their owners before this (``with`` blocks, ``close()`` in ``finally``), and
logging flushes its handlers at exit after this runs.
"""

from __future__ import annotations

import gc

__all__ = ["leave_heap_to_the_os"]


def leave_heap_to_the_os() -> None:
    """Call once a process's work is done, just before it exits (the CLI's ``main``, an API worker)."""
    gc.collect()
    gc.freeze()
