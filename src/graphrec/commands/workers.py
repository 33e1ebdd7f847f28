"""Several API worker processes on one port, each with its own ``SO_REUSEPORT`` listening socket.

Why not ``uvicorn --workers``: its workers share one listening socket, and asyncio accepts every
pending connection in one wake-up, so a burst of keep-alive connections (a load balancer's pool,
a benchmark's clients) often lands on a single worker while the other idles (measured here: 8
connections, 2 workers, 3 runs in 5 at one worker's throughput). With one socket per worker the
kernel spreads new connections across the workers by their address hash.

The supervisor restarts a worker that dies and stops them all on SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import FrameType

from graphrec.commands.process_exit import leave_heap_to_the_os

logger = logging.getLogger(__name__)

_RESTART_PAUSE_S = 1.0
_CRASH_LOOP = 3  # workers in a row that died before they served: a bad setting, give up


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(host: str, port: int, log_level: str, ready: Event) -> None:
    """One worker process: its own socket on the shared port, its own app and event loop; ``ready`` is
    set once its startup (the app's lifespan included) succeeded."""
    import uvicorn

    from api.main import create_logged_app
    from api.server import server_config
    from graphrec.config import Settings

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                ready.set()

    sock = _listening_socket(host, port)
    settings = Settings()  # the process's one read of its settings (create_worker_app's, with the server's)
    config = server_config(create_logged_app(settings), settings, log_level=log_level)
    try:
        Server(config).run(sockets=[sock])
    finally:
        leave_heap_to_the_os()  # served or failed to start: the supervisor sees the exit seconds sooner


def run_workers(host: str, port: int, *, workers: int, log_level: str) -> int:
    """Run ``workers`` API processes until SIGTERM/SIGINT; returns the exit status for the CLI."""
    _listening_socket(host, port).close()  # fail fast, in the parent, if the port is taken
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def start(k: int) -> tuple[BaseProcess, Event]:
        # why an event and not a clock: on a loaded machine importing the app alone can take longer
        # than any fixed "early exit" window, and a crash loop then looked like a worker that had served
        ready = ctx.Event()
        proc = ctx.Process(target=_worker, args=(host, port, log_level, ready), name=f"graphrec-api-{k}")
        proc.start()
        return proc, ready

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()  # uvicorn drains in-flight requests on SIGTERM

    launched = [start(k) for k in range(workers)]
    procs = [proc for proc, _ in launched]
    readies = [ready for _, ready in launched]
    early_exits = 0
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            for k, proc in enumerate(procs):
                if proc.is_alive() or stopping:
                    continue
                early_exits = 0 if readies[k].is_set() else early_exits + 1
                if early_exits >= _CRASH_LOOP:  # e.g. a bad setting: every start fails the same way
                    logger.error("API workers keep exiting at startup (last status %s); giving up", proc.exitcode)
                    stop(signal.SIGTERM, None)
                    break
                logger.error("API worker %s exited with %s; restarting it", proc.name, proc.exitcode)
                time.sleep(_RESTART_PAUSE_S)
                procs[k], readies[k] = start(k)
            time.sleep(0.2)
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        return 1 if early_exits >= _CRASH_LOOP else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
