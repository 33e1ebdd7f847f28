"""Ingestion benchmark: events/s through POST /v1/events vs the store's raw batched write rate.

Starts the store (``--store falkordb``: embedded in a temp dir, the default; ``neo4j``: the test
harness, see bench/stores.py; ``both``: one after the other, a JSON list) and the API (uvicorn,
127.0.0.1) in a subprocess, posts pre-built batches from several concurrent clients, then writes
the very same edge deltas straight into a fresh graph with ``store.upsert_interactions`` (once in
the same per-request batches, once in the store's bulk batches) and prints a JSON summary.
Bounded by ``--events`` and ``--max-seconds``.

    python bench/ingest.py [--events 100000] [--batch 500] [--clients 16] [--workers 2] [--store ...]
    python bench/ingest.py --via both --events 40000   # the Kafka path (1, then 2 consumers) beside the direct one

``--via kafka`` (embedded FalkorDB only) starts the tests' Kafka broker, then for each ``--consumers``
count (default ``1,2``) a new topic and group with that many ``graphrec consume`` workers
(bench/kafka_path.py) and a new graph, runs ``graphrec serve`` in stream mode (``GRAPHREC_EVENT_STREAM``)
and posts the same bodies: ``accepted`` is the 202s (the broker acknowledged) over the posting window,
``applied`` the workers' applied events until the group's committed offsets reach the end offsets, both
timed from the first post; each graph is compared edge by edge with the direct path's (``--via both``,
which runs the direct path first, in the same run and on the same server) or with the raw bulk write's.
On the direct path a 202 comes after the store write, so its accepted and applied rates are one figure.

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
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from kafka_path import PARTITIONS, broker, compare_edges, edges, graph, stream_path
from served_demo import free_port
from stores import BenchStore, add_store_option, bench_store, chosen, print_results  # noqa: I001 - bench/ sibling module

from graphrec import clock
from graphrec.events.pipeline import EventPipeline, aggregate
from graphrec.events.policy import load_policy
from graphrec.events.schema import validate_events
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import GraphStore
from graphrec.graph.records import InteractionDelta

REPO = Path(__file__).resolve().parents[1]
KEY = "bench-key"
VIAS = ("direct", "kafka", "both")


def make_batches(
    n_events: int, batch: int, *, seed: int = 0, prefix: str = "ev", distinct_users: bool = False
) -> list[list[dict[str, object]]]:
    """Sessions of view, scroll, dwell and click on one item (4 events per edge), unique ids.

    ``distinct_users``: a user of its own per session, so no event can be collapsed or flagged and every
    acknowledged event must show in the store (what bench/outage.py counts as lost)."""
    rng = random.Random(seed)
    now = clock.now_ms() - 3_600_000
    batches, cur, eid = [], [], 0
    while eid < n_events:
        user = f"{prefix}-u{eid // 4}" if distinct_users else f"u{rng.randrange(50_000)}"
        item = f"i{rng.randrange(10_000)}"
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
                "event_id": f"{prefix}{eid}",
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
                        answer = r.json()  # stream mode: queued (acknowledged by the broker), applied 0
                        acked[0] += answer.get("queued", answer["applied"])
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
    ap.add_argument(
        "--via",
        choices=VIAS,
        default="direct",
        help="direct: the API writes the store; kafka: the API produces to a test broker and graphrec consume "
        "applies (embedded FalkorDB only); both: one after the other in the same run, edges compared",
    )
    ap.add_argument("--consumer-batch", type=int, default=500, help="graphrec consume --batch-size (--via kafka)")
    ap.add_argument(
        "--consumers",
        type=consumer_counts,
        default=[1, 2],
        help="--via kafka|both: the Kafka pass once per count of graphrec consume workers in the group, each on "
        "a new topic, group and graph, with the same bodies (default 1,2)",
    )
    add_store_option(ap)
    ap.add_argument("--logs", type=Path, help="copy the graphrec consume logs (lag, rate every 10 s) here")
    args = ap.parse_args()
    if args.via != "direct" and args.store != "falkordb":
        raise SystemExit("--via kafka|both runs on --store falkordb only (the consumer joins the embedded store)")
    results = [run(kind, args) for kind in chosen(args.store)]
    print_results(results)


def cpu_ms_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Where the machine's cores went between two readings, per request (the client shares them)."""
    return {k: round(1000 * (after[k] - before[k]) / max(1, requests), 2) for k in before}


def bench_kafka(
    bench: BenchStore,
    workdir: Path,
    bodies: list[bytes],
    sizes: list[int],
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """The same bodies through the API in stream mode, once per ``--consumers`` count, on one broker: each
    count a new topic and group, a new graph (``kafka-N``) and a new API process. Accepted (202 once the
    broker acknowledged) over the posting window, applied (the N ``graphrec consume`` workers) until the
    group's lag is 0, both timed from the first post."""
    with broker() as kafka:
        return [
            bench_consumers(bench, kafka.pid or -1, kafka.bootstrap, workdir, bodies, sizes, n, args)
            for n in args.consumers
        ]


def bench_consumers(
    bench: BenchStore,
    broker_pid: int,
    bootstrap: str,
    workdir: Path,
    bodies: list[bytes],
    sizes: list[int],
    consumers: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One pass of :func:`bench_kafka` with ``consumers`` workers sharing the topic's partitions."""
    env = {"GRAPHREC_EVENTS_MAX_PER_MINUTE": "1000000"}  # the consumer's bot guard, as the API's above
    store_pid = bench.server_pid or -1
    name = kafka_graph(consumers)
    with stream_path(
        bootstrap, workdir, name, batch_size=args.consumer_batch, env=env, consumers=consumers, keep_log=args.logs
    ) as path:
        port = free_port()
        api = start_api(
            bench.env
            | {
                "GRAPHREC_FALKORDB_GRAPH": name,
                "GRAPHREC_EVENT_STREAM": path.stream,
                "GRAPHREC_DATA_DIR": str(workdir / f"api-data-{name}"),
            },
            port,
            args.workers,
        )
        try:
            consumer_pids = path.pids()

            def cpu() -> dict[str, float]:
                return {
                    "api": tree_cpu_seconds(api.pid, {store_pid}),
                    "store": cpu_seconds(store_pid),
                    "client": time.process_time(),
                    "consumers": sum(cpu_seconds(pid) for pid in consumer_pids),
                    "broker": cpu_seconds(broker_pid),
                }

            before = cpu()
            t0 = time.perf_counter()
            posted = bench_api(port, bodies, sizes, args.clients, args.max_seconds)
            drained = path.wait_drained()
            after = cpu()
        finally:
            api.terminate()
            api.wait(timeout=30)
        applied = path.applied()
    applied_s = drained - t0
    return {
        "consumers": consumers,
        "accepted_events": posted["events"],
        "accepted_seconds": round(posted["seconds"], 2),
        "accepted_events_per_s": round(posted["events_per_s"], 2),
        "applied_events": applied,
        "applied_seconds": round(applied_s, 2),
        "applied_events_per_s": round(applied / applied_s, 2),
        "errors": posted["errors"],
        "shed_retries": posted["shed_retries"],
        "p50_ms": round(posted["p50_ms"], 2),
        "p99_ms": round(posted["p99_ms"], 2),
        "cpu_ms_per_request": cpu_ms_per_request(before, after, len(bodies)),
    }


def kafka_graph(consumers: int) -> str:
    """The graph the Kafka pass with ``consumers`` workers builds (one per pass: each starts empty)."""
    return f"kafka-{consumers}"


def consumer_counts(text: str) -> list[int]:
    """``--consumers``: a comma-separated list of worker counts, each 1..PARTITIONS, in the given order."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated whole numbers, got {text!r}") from None
    if not counts or any(not 1 <= n <= PARTITIONS for n in counts) or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(
            f"distinct counts from 1 to {PARTITIONS} (the topic's partitions), got {text!r}"
        )
    return counts


def run(kind: str, args: argparse.Namespace) -> dict[str, object]:

    batches = make_batches(args.events, args.batch)
    bodies = [json.dumps({"events": b}).encode() for b in batches]
    sizes = [len(b) for b in batches]
    policy = load_policy()
    now = clock.now_ms()
    direct, via_kafka = args.via in ("direct", "both"), args.via in ("kafka", "both")

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
        if direct:
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
                api_cpu = cpu_ms_per_request(before, after, len(bodies))
            finally:
                api.terminate()
                api.wait(timeout=30)
        if via_kafka:  # its broker starts now: the direct path above ran without an idle JVM beside it
            kafka_res = bench_kafka(bench, Path(tmp), bodies, sizes, args)
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
        if via_kafka:
            # each kafka graph against the direct path's (both), else against the raw bulk write's (what
            # the graph "raw" holds now): every edge with the same events, or the figures mean nothing
            if direct:
                with contextlib.closing(graph(Path(tmp) / "store", "api")) as posted:
                    reference = edges(posted)
            else:
                assert isinstance(holder, FalkorDBStore)  # --via kafka runs on the embedded store only
                reference = edges(holder)
            for res in kafka_res:
                with contextlib.closing(graph(Path(tmp) / "store", kafka_graph(res["consumers"]))) as streamed:
                    res["edges_vs_" + ("direct" if direct else "raw_bulk")] = compare_edges(reference, edges(streamed))

    targets = kind == "falkordb" and direct
    summary: dict[str, object] = {
        "bench": "ingest",
        "store": kind,
        "store_description": bench.description,
        "via": args.via,
        "config": {
            "events": args.events,
            "batch": args.batch,
            "clients": args.clients,
            "api_workers": args.workers,
            "events_per_edge": 4,
            "cpus": os.cpu_count(),
        }
        | (
            {"consumers": args.consumers, "consumer_batch": args.consumer_batch, "partitions": PARTITIONS}
            if via_kafka
            else {}
        ),
    }
    if direct:
        summary["api"] = {k: round(v, 2) for k, v in api_res.items()}
        summary["cpu_ms_per_request"] = api_cpu
    if via_kafka:
        summary["kafka"] = kafka_res
    summary["raw_same_batches"] = {k: round(v, 2) for k, v in raw_req.items()}
    summary["raw_bulk"] = {k: round(v, 2) for k, v in raw_bulk.items()}
    if direct:
        summary["ratio_vs_raw_same_batches"] = round(api_res["events_per_s"] / raw_req["events_per_s"], 3)
        summary["ratio_vs_raw_bulk"] = round(api_res["events_per_s"] / raw_bulk["events_per_s"], 3)
    if direct and via_kafka:
        # the direct path acknowledges after its store write: its accepted and applied rates are one figure
        summary["kafka_vs_direct"] = {
            f"consumers_{res['consumers']}": {
                "accepted": round(float(res["accepted_events_per_s"]) / api_res["events_per_s"], 3),
                "applied": round(float(res["applied_events_per_s"]) / api_res["events_per_s"], 3),
            }
            for res in kafka_res
        }
    summary["targets"] = {"events_per_s": 20_000, "ratio": 0.5} if targets else None
    summary["meets_targets"] = (
        (api_res["events_per_s"] >= 20_000 and api_res["events_per_s"] / raw_req["events_per_s"] >= 0.5)
        if targets
        else None
    )
    return summary


if __name__ == "__main__":
    main()
