"""The benches' shared setup: a demo data directory (synthetic events, a trained and published model)
and ``graphrec serve`` over it, ready to be measured. One home, so the serving and overload benches
build and start the same thing the same way."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

READY_DEADLINE_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_demo(env: dict[str, str], *, interactions: int, epochs: int) -> None:
    """``python -m graphrec.demo --no-serve`` into ``env``'s data directory (events, model, published)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "graphrec.demo",
            "--interactions",
            str(interactions),
            "--epochs",
            str(epochs),
            "--no-serve",
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def model_users(work: Path) -> np.ndarray:
    """The user ids the published model knows (the benches cycle over them)."""
    version = (work / "models" / "CURRENT").read_text().strip()
    return np.load(work / "models" / version / "user_ids.npy", allow_pickle=False).astype(str)


def start_server(env: dict[str, str], port: int, *, log_level: str, workers: int = 1) -> subprocess.Popen[bytes]:
    """``graphrec serve`` on ``port``, returned once ``/readyz`` answers 200 (a clear exit otherwise)."""
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "graphrec"),
            "serve",
            "--port",
            str(port),
            "--log-level",
            log_level,
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} (run `graphrec serve` with this env to see why)")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    proc.wait(30)
    raise SystemExit(f"server did not become ready within {READY_DEADLINE_S:.0f} s")
