"""A stocked embedded store for the browser tests: synthetic events imported as `make demo` imports them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from graphrec.config import Settings
from graphrec.data.importer import import_dataset
from graphrec.data.readers import read_dataset
from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.data.weighing import weigher_for
from graphrec.events.log import EventLog
from graphrec.graph.falkordb_store import FalkorDBStore


def stocked_store(
    root: Path,
    graph: str,
    *,
    interactions: int,
    seed: int,
    categories: int,
    category_focus: float = 0.0,
    log: bool = False,
) -> tuple[Settings, FalkorDBStore]:
    """Settings over ``root`` and its embedded store (graph ``graph``), holding generated events that end
    now; ``log``: the import is written to the event log too. The caller closes the store."""
    settings = Settings(data_dir=root, graph_uri=f"embedded:{root / 'store'}", falkordb_graph=graph)
    store = FalkorDBStore.embedded(root / "store", graph=graph, die_with_parent=True)
    try:
        store.apply_schema()
        events = root / "events.csv"
        generate(
            SyntheticSpec(
                interactions=interactions,
                seed=seed,
                categories=categories,
                category_focus=category_focus,
                end=datetime.now(UTC),
            ),
            events,
        )
        import_dataset(
            store,
            read_dataset("events", events),
            fmt="events",
            weigher=weigher_for(store, settings),
            batch_size=settings.batch_size,
            log=EventLog(settings.event_log_file) if log else None,
        )
    except BaseException:
        store.close()
        raise
    return settings, store
