"""Overload burst: 200 keep-alive connections send recommendation requests back to back for 10 s.

Two runs against the same server build, same data, same key (rate limit far above the burst):
* ``shedding``: the default concurrency limit (``GRAPHREC_MAX_CONCURRENCY``, 16 per worker);
* ``baseline``: the limit lifted (10,000, the most the setting allows), which is how the API
  behaved before load shedding: every request queues inside the process.

For each run: the share of requests refused fast (429/503 answered within 50 ms), the p50/p99 latency
of the accepted (200) requests, errors and timeouts (a client gives up after 5 s), and the requests/s
served. By default the clients ignore ``Retry-After`` (a hammering burst, the worst case);
``--polite`` clients wait the second it asks for after each refusal.

    python bench/overload.py [--connections 200] [--seconds 10] [--interactions 100000]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvloop
from openloop import exchange
from serve import free_port

KEY = "overload-key"
FAST_MS = 50.0
CLIENT_TIMEOUT_S = 5.0


async def burst(port: int, paths: list[str], connections: int, seconds: float, *, polite: bool) -> dict[str, Any]:
    requests = [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {KEY}\r\n\r\n".encode() for p in paths]
    statuses: list[int] = []
    latencies: list[float] = []
    timeouts = errors = 0
    stop_at = time.perf_counter() + seconds

    async def connection(k: int) -> None:
        nonlocal timeouts, errors
        conn = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(exchange(conn, requests[i % len(requests)]), CLIENT_TIMEOUT_S)
            except TimeoutError:
                timeouts += 1
                conn[1].close()
                conn = await asyncio.open_connection("127.0.0.1", port)
                continue
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                conn[1].close()
                conn = await asyncio.open_connection("127.0.0.1", port)
                continue
            statuses.append(status)
            latencies.append((time.perf_counter() - started) * 1000)
            i += connections
            if polite and status in (429, 503):
                await asyncio.sleep(1.0)  # Retry-After is 1 s for a shed request
        conn[1].close()

    cpu0 = time.process_time()
    began = time.perf_counter()
    await asyncio.gather(*(connection(k) for k in range(connections)))
    wall = time.perf_counter() - began
    st = np.array(statuses)
    lat = np.array(latencies)
    ok = lat[st == 200]
    refused = (st == 429) | (st == 503)
    total = len(st) + timeouts + errors
    return {
        "requests": total,
        "accepted_200": int((st == 200).sum()),
        "refused_429_503": int(refused.sum()),
        "fast_refused_share": round(float((refused & (lat <= FAST_MS)).sum()) / max(total, 1), 4),
        "other_status": {str(s): int((st == s).sum()) for s in np.unique(st) if s not in (200, 429, 503)},
        "timeouts": timeouts,
        "errors": errors,
        "accepted_rps": round(len(ok) / wall, 1),
        "accepted_p50_ms": round(float(np.percentile(ok, 50)), 1) if len(ok) else None,
        "accepted_p99_ms": round(float(np.percentile(ok, 99)), 1) if len(ok) else None,
        "refused_p50_ms": round(float(np.percentile(lat[refused], 50)), 1) if refused.any() else None,
        "refused_p99_ms": round(float(np.percentile(lat[refused], 99)), 1) if refused.any() else None,
        "client_cpu_s": round(time.process_time() - cpu0, 2),
    }


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(Path(sys.executable).parent / "graphrec"), "serve", "--port", str(port),
                             "--log-level", "error"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} (run `graphrec serve` with this env to see why)")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interactions", type=int, default=100_000, help="synthetic events for the demo model")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="reuse a data dir (skips rebuilding)")
    parser.add_argument("--limit", type=int, default=None,
                        help="GRAPHREC_MAX_CONCURRENCY of the shedding run (default: the setting's default)")
    parser.add_argument("--polite", action="store_true", help="clients wait Retry-After after a 429/503")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="graphrec-bench-overload-"))
    env = {**os.environ, "GRAPHREC_DATA_DIR": str(work), "GRAPHREC_GRAPH_URI": f"embedded:{work / 'store'}",
           "GRAPHREC_FALKORDB_GRAPH": "bench", "GRAPHREC_API_KEYS": KEY,
           "GRAPHREC_RATE_LIMIT_PER_S": "1000000", "GRAPHREC_RATE_LIMIT_BURST": "1000000"}
    if not (work / "models" / "CURRENT").exists():
        subprocess.run([sys.executable, "-m", "graphrec.demo", "--interactions", str(args.interactions),
                        "--epochs", str(args.epochs), "--no-serve"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    version = (work / "models" / "CURRENT").read_text().strip()
    users = np.load(work / "models" / version / "user_ids.npy", allow_pickle=False).astype(str)
    paths = [f"/v1/users/{u}/recommendations?k=20" for u in users[:5000].tolist()]
    results: dict[str, Any] = {"connections": args.connections, "seconds": args.seconds,
                               "fast_ms": FAST_MS, "client_timeout_s": CLIENT_TIMEOUT_S}
    results["polite_clients"] = args.polite
    shed_limit = str(args.limit) if args.limit else None
    for name, limit in (("baseline", "10000"), ("shedding", shed_limit)):
        run_env = dict(env)
        if limit is not None:
            run_env["GRAPHREC_MAX_CONCURRENCY"] = limit
        port = free_port()
        server = serve(run_env, port)
        try:
            results[name] = uvloop.run(burst(port, paths, args.connections, args.seconds, polite=args.polite))
            results[name]["max_concurrency"] = int(limit) if limit else "default (GRAPHREC_MAX_CONCURRENCY)"
        finally:
            server.terminate()
            server.wait(30)
    b, s = results["baseline"], results["shedding"]
    if b["accepted_p99_ms"] and s["accepted_p99_ms"]:
        results["accepted_p99_ratio_vs_baseline"] = round(s["accepted_p99_ms"] / b["accepted_p99_ms"], 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
