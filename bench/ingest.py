"""Ingestion benchmark: events/s through POST /v1/events vs the store's raw batched write rate.

Starts the store (``--store falkordb``: embedded in a temp dir, the default; ``neo4j``: the test
harness, see bench/stores.py; ``both``: one after the other, a JSON list) and the API (uvicorn,
127.0.0.1) in a subprocess, posts pre-built batches from several concurrent clients, then writes
the very same edge deltas straight into a fresh graph with ``store.upsert_interactions`` (once in
the same per-request batches, once in the store's bulk batches) and prints a JSON summary.
Bounded by ``--events`` and ``--max-seconds``.

    python bench/ingest.py [--events 100000] [--batch 500] [--clients 16] [--workers 2] [--store ...]

The API runs as deployed, ``graphrec serve --workers W`` (default 2, one per core: a Python process
runs one thread at a time). On this 2-core machine 1 worker gives ~26-27k events/s and 2 give
~35-36k. Each worker has its own SO_REUSEPORT socket and the kernel hashes connections onto them, so
a handful of keep-alive clients can land unevenly (with 8, some runs put 6 on one worker: ~30k);
16 clients spread evenly.
``cpu_ms_per_request`` splits the machine's CPU between the API processes, the store and the load
generator during the API run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from served_demo import free_port
from stores import add_store_option, bench_store, chosen, print_results  # noqa: I001 - bench/ sibling module

from graphrec import clock
from graphrec.events.pipeline import EventPipeline, aggregate
from graphrec.events.policy import load_policy
from graphrec.events.schema import validate_events
from graphrec.graph.port import GraphStore
from graphrec.graph.records import InteractionDelta

REPO = Path(__file__).resolve().parents[1]
KEY = "bench-key"


def make_batches(n_events: int, batch: int, *, seed: int = 0) -> list[list[dict[str, object]]]:
    """Sessions of view, scroll, dwell and click on one item (4 events per edge), unique ids."""
    rng = random.Random(seed)
    now = clock.now_ms() - 3_600_000
    batches, cur, eid = [], [], 0
    while eid < n_events:
        user, item = f"u{rng.randrange(50_000)}", f"i{rng.randrange(10_000)}"
        ts = now + eid
        for k, (t, v) in enumerate(
            (
                ("view", None),
                ("scroll", round(rng.random(), 3)),
                ("dwell", round(rng.expovariate(1 / 40), 1)),
                ("click", None),
            )
        ):
            e: dict[str, object] = {
                "event_id": f"ev{eid}",
                "user_id": user,
                "item_id": item,
                "type": t,
                "timestamp": ts + k * 2_000,
            }
            if v is not None:
                e["value"] = v
            cur.append(e)
            eid += 1
        if len(cur) >= batch:
            batches.append(cur)
            cur = []
    if cur:
        batches.append(cur)
    return batches


def start_api(store_env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    """``graphrec serve`` as deployed: ``workers`` uvicorn worker processes (1: in-process)."""
    env = {
        **os.environ,
        **store_env,
        "GRAPHREC_API_KEYS": KEY,
        "GRAPHREC_RATE_LIMIT_PER_S": "1000000",
        "GRAPHREC_RATE_LIMIT_BURST": "1000000",
        "GRAPHREC_EVENTS_MAX_PER_MINUTE": "1000000",
    }
    graphrec = str(Path(sys.executable).with_name("graphrec"))
    cmd = [graphrec, "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if os.environ.get("BENCH_UVICORN"):
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_worker_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--workers",
            str(workers),
        ]
        env["GRAPHREC_LOG_LEVEL"] = "warning"
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("API did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int, exclude: set[int]) -> float:
    """CPU time of ``pid`` and its live descendants (uvicorn workers), minus ``exclude`` (the store)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in exclude:
            continue
        try:
            total += cpu_seconds(p)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return total


def bench_api(port: int, bodies: list[bytes], sizes: list[int], clients: int, max_seconds: float) -> dict[str, float]:
    next_i = iter(range(len(bodies)))
    lock = threading.Lock()
    acked = [0]
    latencies: list[float] = []
    errors = [0]
    shed = [0]
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        ) as c:
            while time.monotonic() < deadline:
                with lock:
                    i = next(next_i, None)
                if i is None:
                    return
                t = time.perf_counter()
                r = c.post("/v1/events", content=bodies[i])
                while r.status_code in (429, 503):  # shed or rate limited: retry as a client should
                    with lock:
                        shed[0] += 1
                    time.sleep(0.01)
                    r = c.post("/v1/events", content=bodies[i])
                dt = time.perf_counter() - t
                with lock:
                    if r.status_code == 202:
                        acked[0] += r.json()["applied"]
                        latencies.append(dt)
                    else:
                        errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "events": acked[0],
        "seconds": wall,
        "events_per_s": acked[0] / wall,
        "errors": errors[0],
        "shed_retries": shed[0],
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
    }


def bench_raw(store: GraphStore, batches: list[list[InteractionDelta]], n_events: int) -> dict[str, float]:
    t0 = time.perf_counter()
    for deltas in batches:
        store.upsert_interactions(deltas)
    wall = time.perf_counter() - t0
    return {
        "events": n_events,
        "edges": sum(map(len, batches)),
        "seconds": wall,
        "events_per_s": n_events / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="API worker processes (graphrec serve --workers)")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    add_store_option(ap)
    args = ap.parse_args()
    results = [run(kind, args) for kind in chosen(args.store)]
    print_results(results)


def run(kind: str, args: argparse.Namespace) -> dict[str, object]:

    batches = make_batches(args.events, args.batch)
    bodies = [json.dumps({"events": b}).encode() for b in batches]
    sizes = [len(b) for b in batches]
    policy = load_policy()
    now = clock.now_ms()

    with (
        tempfile.TemporaryDirectory(prefix="graphrec-bench-") as tmp,
        bench_store(kind, Path(tmp), graph="raw") as bench,
    ):
        holder = bench.store
        # FalkorDB: the API writes its own graph of the same server; Neo4j has one database, which
        # the raw runs below empty first.
        api_env = bench.env | ({"GRAPHREC_FALKORDB_GRAPH": "api"} if kind == "falkordb" else {})
        # The same deltas the pipeline writes (capped, aggregated, weighed), for the raw comparison.
        pipe = EventPipeline(holder, policy)
        delta_batches = [
            aggregate(pipe.to_clean(validate_events(b, now_ms=now, skew_ms=10**9)), policy) for b in batches
        ]
        port = free_port()
        api = start_api(api_env, port, args.workers)
        store_pid = bench.server_pid or -1
        try:

            def cpu() -> dict[str, float]:
                return {
                    "api": tree_cpu_seconds(api.pid, {store_pid}),
                    "store": cpu_seconds(store_pid),
                    "client": time.process_time(),
                }

            before = cpu()
            api_res = bench_api(port, bodies, sizes, args.clients, args.max_seconds)
            after = cpu()
            # where the machine's cores went during the API run (the client shares them)
            requests = max(1, len(bodies))
            cpu_ms_per_request = {k: round(1000 * (after[k] - before[k]) / requests, 2) for k in before}
        finally:
            api.terminate()
            api.wait(timeout=30)
        flat = [d for b in delta_batches for d in b]

        def median_raw(batches: list[list[InteractionDelta]]) -> dict[str, float]:
            """The median of 3 runs, each into an empty graph: one short run swings +-10% here."""
            runs = []
            for _ in range(3):
                holder.clear()
                holder.apply_schema()
                runs.append(bench_raw(holder, batches, sum(sizes)))
            return sorted(runs, key=lambda r: r["events_per_s"])[1]

        raw_req = median_raw(delta_batches)
        raw_bulk = median_raw([flat])  # the store splits into its own batches (10k rows)

    targets = kind == "falkordb"
    summary: dict[str, object] = {
        "bench": "ingest",
        "store": kind,
        "store_description": bench.description,
        "config": {
            "events": args.events,
            "batch": args.batch,
            "clients": args.clients,
            "api_workers": args.workers,
            "events_per_edge": 4,
            "cpus": os.cpu_count(),
        },
        "api": {k: round(v, 2) for k, v in api_res.items()},
        "cpu_ms_per_request": cpu_ms_per_request,
        "raw_same_batches": {k: round(v, 2) for k, v in raw_req.items()},
        "raw_bulk": {k: round(v, 2) for k, v in raw_bulk.items()},
        "ratio_vs_raw_same_batches": round(api_res["events_per_s"] / raw_req["events_per_s"], 3),
        "ratio_vs_raw_bulk": round(api_res["events_per_s"] / raw_bulk["events_per_s"], 3),
        "targets": {"events_per_s": 20_000, "ratio": 0.5} if targets else None,
    }
    ratio = api_res["events_per_s"] / raw_req["events_per_s"]
    summary["meets_targets"] = (api_res["events_per_s"] >= 20_000 and ratio >= 0.5) if targets else None
    return summary


if __name__ == "__main__":
    main()
