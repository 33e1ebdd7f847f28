"""Serving benchmark: recommendation latency/throughput next to /healthz of the same server, same run.

Builds a synthetic graph and a trained model with the demo pipeline (``python -m graphrec.demo
--no-serve``) in a temp dir, starts ``graphrec serve`` (uvicorn, 127.0.0.1, warning-level logs) in a
subprocess, then measures for ``/healthz`` (trivial) and ``/v1/users/{id}/recommendations``
(cycling over many real user ids):

* saturation throughput at concurrency 32 (``wrk``, closed loop; the endpoints alternate, three
  runs each, and each reports its median run),
* service time at concurrency 1 (``wrk``; p50/p99),
* latency at a fixed offered rate of half the saturation throughput (open loop, ``bench/openloop.py``:
  raw keep-alive HTTP on uvloop, latency counted from each request's scheduled send time, so no
  coordinated omission; it reports its own send lag and CPU so a saturated generator shows).

Prints one JSON object. ``wrk`` comes from Debian (``apt-get install -y wrk``).

    python bench/serve.py [--interactions 1000000] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from openloop import open_loop
from served_demo import build_demo, free_port, model_users, start_server

LUA = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/users/" .. ids[(n %% #ids) + 1] .. "/recommendations?k=20")
end
"""


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def median_run(runs: list[dict[str, float]]) -> dict[str, Any]:
    """The run with the median throughput, with every run's throughput alongside."""
    ranked = sorted(runs, key=lambda r: r["rps"])
    return {**ranked[len(ranked) // 2], "rps_runs": [r["rps"] for r in runs]}


def run_wrk(url: str, *, connections: int, threads: int, seconds: int, script: Path | None) -> dict[str, float]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, flags=re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": round(rps, 1),
        "p50_ms": _ms(lat.get("50", "")),
        "p99_ms": _ms(lat.get("99", "")),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000, help="synthetic events to generate")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--workdir", type=Path, default=None, help="reuse a data dir (skips rebuilding)")
    parser.add_argument("--workers", type=int, default=1, help="API worker processes (graphrec serve --workers)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="graphrec-bench-serve-"))
    env = {
        **os.environ,
        "GRAPHREC_DATA_DIR": str(work),
        "GRAPHREC_GRAPH_URI": f"embedded:{work / 'store'}",
        "GRAPHREC_FALKORDB_GRAPH": "bench",
        "GRAPHREC_API_KEYS": "",
        # one client address sends everything: the per-address limit of keyless reads would shed it
        "GRAPHREC_IP_RATE_LIMIT_PER_S": "1000000",
        "GRAPHREC_IP_RATE_LIMIT_BURST": "1000000",
        # saturation is measured at 32 connections: above the default load-shedding limit
        "GRAPHREC_MAX_CONCURRENCY": "10000",
    }
    build_s: float | None = None  # a reused --workdir is not rebuilt (its help always said so)
    if not (work / "models" / "CURRENT").exists():
        t0 = time.perf_counter()
        build_demo(env, interactions=args.interactions, epochs=args.epochs)
        build_s = time.perf_counter() - t0
    users = model_users(work)
    ids_file = work / "user_ids.txt"
    ids_file.write_text("\n".join(users.tolist()) + "\n")
    script = work / "users.lua"
    script.write_text(LUA % ids_file)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, log_level="warning", workers=args.workers)
    try:
        d = args.duration
        warm = run_wrk(f"{base}/healthz", connections=4, threads=1, seconds=2, script=None)  # noqa: F841
        # Saturation alternates the two endpoints three times and keeps each one's median run: a
        # single pair swung the ratio from 0.31 to 0.44 when a background refresh (or the VM)
        # happened to slow one of the two runs.
        trivial_runs, rec_runs = [], []
        for _ in range(3):
            trivial_runs.append(run_wrk(f"{base}/healthz", connections=32, threads=2, seconds=d, script=None))
            rec_runs.append(run_wrk(base, connections=32, threads=2, seconds=d, script=script))
        sat_trivial, sat_rec = median_run(trivial_runs), median_run(rec_runs)
        one_trivial = run_wrk(f"{base}/healthz", connections=1, threads=1, seconds=d, script=None)
        one_rec = run_wrk(base, connections=1, threads=1, seconds=d, script=script)
        paths = [f"/v1/users/{u}/recommendations?k=20" for u in users[:5000].tolist()]
        open_rec = open_loop("127.0.0.1", port, paths, sat_rec["rps"] / 2, d)
        open_trivial = open_loop("127.0.0.1", port, ["/healthz"], sat_rec["rps"] / 2, d)
        counts = httpx.get(f"{base}/v1/model").json()["metrics"]
    finally:
        server.terminate()
        server.wait(30)
    result = {
        "graph": {
            "events": args.interactions,
            "edges": counts.get("n_edges"),
            "users": counts.get("n_users"),
            "items": counts.get("n_items"),
            "build_seconds": round(build_s, 1) if build_s is not None else None,
        },
        "saturation_c32": {
            "healthz": sat_trivial,
            "recommendations": sat_rec,
            "ratio": round(sat_rec["rps"] / sat_trivial["rps"], 3),
        },
        "service_time_c1": {"healthz": one_trivial, "recommendations": one_rec},
        "open_loop_half_saturation": {"healthz": open_trivial, "recommendations": open_rec},
        "targets": {
            "ratio>=0.25": sat_rec["rps"] / sat_trivial["rps"] >= 0.25,
            "c1_p50<=3ms": one_rec["p50_ms"] <= 3,
            "c1_p99<=15ms": one_rec["p99_ms"] <= 15,
            "open_p99<=50ms": open_rec["p99_ms"] <= 50,
        },
        "cpus": os.cpu_count(),
        "api_workers": args.workers,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
