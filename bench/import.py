"""Import throughput vs the store's raw batched write rate, measured in the same run.

    python bench/import.py [--interactions 1000000] [--seed 0] [--batch 10000] [--store falkordb|neo4j|both]

Prints one JSON object. ``import`` is the whole pipeline on a synthetic events CSV (parse, validate,
weigh, aggregate, node upserts, ledger-guarded MERGE batches). ``raw`` writes the same input rows
with the cheapest batched Cypher (one CREATE per row between pre-created nodes, no validation,
aggregation or ledger) on the same server (FalkorDB: a scratch graph; Neo4j: scratch labels).
``--store both`` runs the two stores one after the other on the same input and prints a JSON list.
Targets (this machine, embedded store): import >= 50,000 rows/s and >= 0.5x raw; on Neo4j (the test
harness, see bench/stores.py) the same figures are reported, with no target.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow.csv as pacsv
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


def raw_rate(bench: BenchStore, csv: Path, batch: int) -> dict[str, float]:
    table = pacsv.read_csv(csv)
    users = table.column("user_id").unique().to_pylist()
    items = table.column("item_id").unique().to_pylist()
    bench.raw_indexes()
    started = time.perf_counter()
    for ids, query in ((users, RAW_USERS), (items, RAW_ITEMS)):
        for k in range(0, len(ids), batch):
            bench.raw(query, {"ids": ids[k : k + batch]})
    u, i, t = (
        table.column("user_id").to_pylist(),
        table.column("item_id").to_pylist(),
        table.column("timestamp").to_pylist(),
    )
    rows = [{"u": a, "i": b, "w": 1.0, "t": c} for a, b, c in zip(u, i, t, strict=True)]
    for k in range(0, len(rows), batch):
        bench.raw(RAW_EDGES, {"rows": rows[k : k + batch]})
    seconds = time.perf_counter() - started
    bench.raw_cleanup()
    return {"rows": len(rows), "seconds": round(seconds, 2), "rows_per_s": round(len(rows) / seconds)}


def run(kind: str, csv: Path, tmp: Path, args: argparse.Namespace) -> dict[str, object]:
    with bench_store(kind, tmp / kind, batch_size=args.batch) as bench:
        store = bench.store
        started = time.perf_counter()
        dataset = read_dataset("events", csv)
        parsed = time.perf_counter() - started
        weigher = weigher_for(store, Settings())
        report = import_dataset(
            store, dataset, fmt="events", weigher=weigher, batch_size=args.batch, weight_cap=weigher.weight_cap
        )
        seconds = time.perf_counter() - started
        counts = store.counts()
        raw = raw_rate(bench, csv, args.batch)
    rate = args.interactions / seconds
    targets = kind == "falkordb"
    return {
        "benchmark": "import",
        "store": kind,
        "store_description": bench.description,
        "rows": args.interactions,
        "import": {
            "seconds": round(seconds, 2),
            "parse_validate_s": round(parsed, 2),
            "rows_per_s": round(rate),
            "edges": report.interactions,
            "edges_per_s": round(report.interactions / seconds),
        },
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
    add_store_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphrec-bench-") as tmp:
        csv = Path(tmp) / "events.csv"
        generate(SyntheticSpec(interactions=args.interactions, seed=args.seed), csv)
        results = [run(kind, csv, Path(tmp), args) for kind in chosen(args.store)]
    print_results(results)


if __name__ == "__main__":
    main()
