"""Outage buffering on the Kafka path: the store frozen while clients keep posting; what the API
acknowledged meanwhile, how far the consumer fell behind, how long it took to catch up, and how many
acknowledged events never reached the store (must be 0).

Starts the tests' Kafka broker, an embedded FalkorDB (bench/stores.py), ``graphrec consume`` (with
/metrics) and ``graphrec serve`` in stream mode (bench/kafka_path.py, bench/ingest.py), then:

1. warm-up: ``--warmup-events`` posted and applied (the group's lag back to 0);
2. the outage: the store's server frozen with SIGSTOP for ``--outage-s`` (a kill -9 would be undone at
   once by the API's watchdog, which restarts an embedded server it finds dead: see
   tests/events/test_kafka_failures.py) while one client posts batches of ``--batch`` at ``--rate``
   events/s; the group's lag on the broker (end offsets minus committed offsets) sampled every 0.5 s;
3. SIGCONT, posting stops, and the catch-up: from the store's return until the lag is 0 again;
4. lost: events acknowledged (202) minus the events the store's edges hold. Each session has a user of its
   own, so nothing is collapsed or flagged and every acknowledged event must be there.

The baseline in the same run is the warm-up: the same steady posting with the store up, its lag peak and
how long after the last post the consumer had applied everything.

    python bench/outage.py [--outage-s 30] [--rate 1000] [--batch 100] [--warmup-events 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from ingest import KEY, make_batches, start_api
from kafka_path import broker, counted, edges, stream_path
from served_demo import free_port
from stores import bench_store  # noqa: I001 - bench/ sibling modules

from graphrec.graph.falkordb_store import FalkorDBStore

LAG_EVERY_S = 0.5


class SteadyPoster:
    """One keep-alive client posting the next batch every ``batch / rate`` seconds (at once when behind):
    a steady offered load, whatever the answers. Keeps each batch's status."""

    def __init__(self, port: int, batches: list[list[dict[str, object]]], rate: float) -> None:
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=30,
            headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        )
        self.bodies = [json.dumps({"events": b}).encode() for b in batches]
        self.sizes = [len(b) for b in batches]
        self.rate = rate
        self.next = 0
        self.acknowledged = 0
        self.refused: dict[int, int] = {}  # status (0: no answer): batches

    def post_for(self, seconds: float, *, batches: int | None = None) -> dict[str, float]:
        """Post at the steady rate for ``seconds``, or until batch index ``batches`` (or the last one);
        what was acknowledged meanwhile."""
        start, acknowledged, offered = time.perf_counter(), self.acknowledged, 0
        end, last = start + seconds, min(len(self.bodies), batches if batches is not None else len(self.bodies))
        while self.next < last and time.perf_counter() < end:
            time.sleep(max(0.0, start + offered / self.rate - time.perf_counter()))
            try:
                response = self.http.post("/v1/events", content=self.bodies[self.next])
            except httpx.TransportError:  # no answer: not acknowledged (the events may still be in the topic)
                self.refused[0] = self.refused.get(0, 0) + 1
                self.next += 1
                offered += self.sizes[self.next - 1]
                continue
            if response.status_code == 202:
                self.acknowledged += int(response.json()["queued"])
            else:
                self.refused[response.status_code] = self.refused.get(response.status_code, 0) + 1
            offered += self.sizes[self.next]
            self.next += 1
        wall = time.perf_counter() - start
        done = self.acknowledged - acknowledged
        return {"acknowledged": done, "seconds": round(wall, 2), "acknowledged_per_s": round(done / wall, 2)}

    def close(self) -> None:
        self.http.close()


class LagSampler:
    """The group's lag on the broker every ``LAG_EVERY_S`` in a thread of its own (a reading opens a
    client: in the posting loop it would bend the steady rate); :meth:`stop` returns the peak."""

    def __init__(self, read: Callable[[], int]) -> None:
        self.read = read
        self.samples: list[int] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.samples.append(self.read())
                self._stop.wait(LAG_EVERY_S)
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc

    def close(self) -> None:
        """Stop sampling without reading the result (the run failed before :meth:`stop`)."""
        self._stop.set()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=60)
        if self._thread.is_alive():
            raise RuntimeError("the lag sampler did not stop within 60 s")
        if self.error is not None:
            raise RuntimeError(f"reading the group's lag failed: {self.error!r}") from self.error
        return max(self.samples, default=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outage-s", type=float, default=30.0, help="how long the store is frozen")
    ap.add_argument("--rate", type=float, default=1000.0, help="events/s posted, steadily")
    ap.add_argument("--batch", type=int, default=100, help="events per POST")
    ap.add_argument("--warmup-events", type=int, default=10_000)
    ap.add_argument("--consumer-batch", type=int, default=500, help="graphrec consume --batch-size")
    ap.add_argument("--logs", type=Path, help="copy graphrec consume's log (lag, rate every 10 s) here")
    args = ap.parse_args()
    print(json.dumps(run(args), indent=2))


def run(args: argparse.Namespace) -> dict[str, object]:
    outage_events = int(args.rate * args.outage_s * 1.2) + args.batch  # more than the outage can post
    batches = make_batches(args.warmup_events + outage_events, args.batch, prefix="outage", distinct_users=True, seed=1)
    warmup = next(  # the batches that hold the first --warmup-events events
        (i + 1 for i in range(len(batches)) if sum(map(len, batches[: i + 1])) >= args.warmup_events), len(batches)
    )
    env = {"GRAPHREC_EVENTS_MAX_PER_MINUTE": "1000000"}
    with (
        tempfile.TemporaryDirectory(prefix="graphrec-bench-") as tmp,
        bench_store("falkordb", Path(tmp), graph="outage") as bench,
        broker() as kafka,
        stream_path(
            kafka.bootstrap, Path(tmp), "outage", batch_size=args.consumer_batch, env=env, keep_log=args.logs
        ) as path,
    ):
        store_pid = bench.server_pid
        if store_pid is None:
            raise SystemExit("the embedded store's server pid is unknown: nothing to freeze")
        port = free_port()
        api_env = bench.env | env | {"GRAPHREC_EVENT_STREAM": path.stream, "GRAPHREC_DATA_DIR": f"{tmp}/api-data"}
        api_env |= {"GRAPHREC_STORE_CHECK_S": "0.2", "GRAPHREC_STORE_TIMEOUT_S": "1.0"}  # sees the outage soon
        api = start_api(api_env, port, 1)
        poster = SteadyPoster(port, batches, args.rate)
        samplers: list[LagSampler] = []
        try:
            samplers.append(LagSampler(path.lag))
            warm: dict[str, object] = dict(poster.post_for(float("inf"), batches=warmup))
            last_post = time.perf_counter()
            drained = path.wait_drained()
            warm |= {"lag_peak": samplers[0].stop(), "applied_s_after_last_post": round(drained - last_post, 2)}
            acknowledged_before = poster.acknowledged

            samplers.append(LagSampler(path.lag))
            os.kill(store_pid, signal.SIGSTOP)
            try:
                during = poster.post_for(args.outage_s)
            finally:
                os.kill(store_pid, signal.SIGCONT)
                store_back = time.perf_counter()
            caught_up = path.wait_drained()
            lag_peak = samplers[1].stop()
        finally:
            for sampler in samplers:
                sampler.close()
            poster.close()
            api.terminate()
            api.wait(timeout=30)
        assert isinstance(bench.store, FalkorDBStore)
        in_store = counted(edges(bench.store))  # the graph the consumer wrote
        applied_metric = path.applied()

    catch_up_s = caught_up - store_back
    return {
        "bench": "outage",
        "store_description": bench.description,
        "config": {
            "outage_s": args.outage_s,
            "rate_events_per_s": args.rate,
            "batch": args.batch,
            "warmup_events": args.warmup_events,
            "consumer_batch": args.consumer_batch,
            "cpus": os.cpu_count(),
        },
        "baseline_store_up": warm,
        "outage": during | {"refused_batches": poster.refused},
        "acknowledged_during_outage": poster.acknowledged - acknowledged_before,
        "lag_peak": lag_peak,
        "catch_up_s": round(catch_up_s, 2),
        "catch_up_events_per_s": round(lag_peak / catch_up_s, 2) if catch_up_s > 0 else None,
        "acknowledged": poster.acknowledged,
        "applied_in_store": in_store,
        "applied_by_consumer": applied_metric,
        "lost": poster.acknowledged - in_store,
    }


if __name__ == "__main__":
    main()
