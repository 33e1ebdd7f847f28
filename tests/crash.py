"""The crash tests inflict on the real embedded store: ``kill -9`` its server, then wait until it is gone.

Why one home: a test that goes on before the server is gone races its own crash (a read may still be
answered), and a wait for it without a deadline hangs the suite when the server does not die.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from deadlines import wait_until

from graphrec.graph.embedded import EmbeddedServer


def kill_embedded_server(data_dir: Path) -> int:
    """SIGKILL the running server of ``data_dir``; returns its pid once no live server is recorded there."""
    info = EmbeddedServer(data_dir).info()
    assert info is not None, f"no embedded server runs for {data_dir}"
    os.kill(info.pid, signal.SIGKILL)
    wait_until(
        lambda: EmbeddedServer(data_dir).info() is None,
        what=f"the killed server (pid {info.pid}) to be gone",
        interval_s=0.01,
    )
    return info.pid
