"""Import throughput vs the store's raw batched write rate, measured in the same run.

    python bench/import.py [--interactions 1000000] [--seed 0] [--batch 10000] [--store falkordb|neo4j|both]
                           [--dataset FORMAT:PATH] [--runs N]

Prints one JSON object. ``import`` is the whole pipeline on a synthetic events CSV (parse, validate,
weigh, aggregate, node upserts, ledger-guarded MERGE batches). ``raw`` writes the same input rows
with the cheapest batched Cypher (one CREATE per row between pre-created nodes, no validation,
aggregation or ledger) on the same server (FalkorDB: a scratch graph; Neo4j: scratch labels).
``--store both`` runs the two stores one after the other on the same input and prints a JSON list.
``--dataset movielens:../shared/datasets/ml-100k`` imports that data set instead of a synthetic one
(any ``graphrec import`` format). ``--runs N`` imports N times on the same server, clearing the graph
in between: the first run is what a fresh server gives (on Neo4j that includes the JVM compiling the
write path), the later ones what a warmed-up server gives; ``import`` reports the last run and
``runs_s`` every run.
Targets (this machine, embedded store): import >= 50,000 rows/s and >= 0.5x raw; on Neo4j (the test
harness, see bench/stores.py) the same figures are reported, with no target.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from stores import BenchStore, add_store_option, bench_store, chosen, print_results  # noqa: I001 - bench/ sibling module

from graphrec.config import Settings
from graphrec.data.importer import import_dataset
from graphrec.data.readers import read_dataset
from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.data.weighing import weigher_for

RAW_USERS = "UNWIND $ids AS x CREATE (:RawUser {id: x})"
RAW_ITEMS = "UNWIND $ids AS x CREATE (:RawItem {id: x})"
RAW_EDGES = (
    "UNWIND $rows AS r MATCH (u:RawUser {id: r.u}) MATCH (i:RawItem {id: r.i}) "
    "CREATE (u)-[:RAW_INTERACTED {weight: r.w, ts: r.t}]->(i)"
)


def raw_rate(bench: BenchStore, events: pa.Table, batch: int) -> dict[str, float]:
    """The cheapest batched write of the same (user, item, time) rows on the same server."""
    users = pc.unique(events.column("user_id")).to_pylist()
    items = pc.unique(events.column("item_id")).to_pylist()
    bench.raw_indexes()
    started = time.perf_counter()
    for ids, query in ((users, RAW_USERS), (items, RAW_ITEMS)):
        for k in range(0, len(ids), batch):
            bench.raw(query, {"ids": ids[k : k + batch]})
    u, i, t = (events.column(c).to_pylist() for c in ("user_id", "item_id", "ts"))
    rows = [{"u": a, "i": b, "w": 1.0, "t": c} for a, b, c in zip(u, i, t, strict=True)]
    for k in range(0, len(rows), batch):
        bench.raw(RAW_EDGES, {"rows": rows[k : k + batch]})
    seconds = time.perf_counter() - started
    bench.raw_cleanup()
    return {"rows": len(rows), "seconds": round(seconds, 2), "rows_per_s": round(len(rows) / seconds)}


def run(kind: str, fmt: str, path: Path, tmp: Path, args: argparse.Namespace) -> dict[str, object]:
    with bench_store(kind, tmp / kind, batch_size=args.batch) as bench:
        store = bench.store
        started = time.perf_counter()
        dataset = read_dataset(fmt, path)
        parsed = time.perf_counter() - started
        weigher = weigher_for(store, Settings())
        runs = []
        for n in range(args.runs):
            if n:
                store.clear()
                store.apply_schema()
            begun = time.perf_counter()
            report = import_dataset(
                store, dataset, fmt=fmt, weigher=weigher, batch_size=args.batch, weight_cap=weigher.weight_cap
            )
            runs.append(time.perf_counter() - begun)
        seconds = runs[-1] + parsed
        counts = store.counts()
        raw = raw_rate(bench, dataset.events, args.batch)
    rows = dataset.events.num_rows
    rate = rows / seconds
    targets = kind == "falkordb" and fmt == "events"
    return {
        "benchmark": "import",
        "store": kind,
        "store_description": bench.description,
        "dataset": f"{fmt}:{path}" if args.dataset else "synthetic",
        "rows": rows,
        "import": {
            "seconds": round(seconds, 2),
            "parse_validate_s": round(parsed, 2),
            "rows_per_s": round(rate),
            "edges": report.interactions,
            "edges_per_s": round(report.interactions / seconds),
        },
        "runs_s": [round(r, 2) for r in runs],
        "raw": raw,
        "ratio_vs_raw": round(rate / raw["rows_per_s"], 2),
        "graph": asdict(counts),
        "targets": {"rows_per_s": 50_000, "ratio_vs_raw": 0.5} if targets else None,
        "meets_targets": (rate >= 50_000 and rate / raw["rows_per_s"] >= 0.5) if targets else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--dataset", default=None, help="FORMAT:PATH of a data set to import instead of synthetic")
    parser.add_argument("--runs", type=int, default=1, help="imports on the same server (the first one cold)")
    add_store_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphrec-bench-") as tmp:
        if args.dataset:
            fmt, _, where = args.dataset.partition(":")
            path = Path(where)
        else:
            fmt, path = "events", Path(tmp) / "events.csv"
            generate(SyntheticSpec(interactions=args.interactions, seed=args.seed), path)
        results = [run(kind, fmt, path, Path(tmp), args) for kind in chosen(args.store)]
    print_results(results)


if __name__ == "__main__":
    main()
