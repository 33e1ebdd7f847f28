"""The embedded server's lifecycle: sharing, leases, durability across kill -9, no orphans."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from deadlines import wait_until

from factories import delta
from graphrec.graph.embedded import EmbeddedServer, _pid_alive
from graphrec.graph.falkordb_store import FalkorDBStore

pytestmark = pytest.mark.integration  # every test starts servers of its own


def wait_dead(pid: int) -> bool:
    return wait_until(lambda: not _pid_alive(pid), what=f"the server (pid {pid}) to exit", interval_s=0.02)


def test_two_clients_share_one_server_and_last_release_stops_it(tmp_path: Path) -> None:
    a = FalkorDBStore.embedded(tmp_path, die_with_parent=True)
    b = FalkorDBStore.embedded(tmp_path, die_with_parent=True)
    server = EmbeddedServer(tmp_path)
    info = server.info()
    assert info is not None and len(server.live_leases()) == 2
    a.upsert_interactions([delta("u", "i")])
    assert b.counts().interactions == 1  # the same database
    a.close()
    assert _pid_alive(info.pid)  # b still holds a lease
    b.close()
    assert wait_dead(info.pid)
    assert server.info() is None


def test_unix_socket_only_password_and_private_files(tmp_path: Path) -> None:
    store = FalkorDBStore.embedded(tmp_path, die_with_parent=True)
    try:
        conf = (tmp_path / "redis.conf").read_text()
        assert "port 0" in conf and "appendfsync always" in conf
        assert stat.S_IMODE(os.stat(tmp_path / "password").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "redis.conf").st_mode) == 0o600
        info = EmbeddedServer(tmp_path).info()
        assert info is not None
        # The password is not on the command line, and the server listens on no TCP port.
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().decode()
        assert (tmp_path / "password").read_text().strip() not in cmdline
        import redis

        with pytest.raises(redis.AuthenticationError):
            redis.Redis(unix_socket_path=info.socket, password="wrong").ping()
        listening = Path("/proc/net/tcp").read_text() + Path("/proc/net/tcp6").read_text()
        inode_links = {os.readlink(f"/proc/{info.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{info.pid}/fd")}
        sockets = {link[8:-1] for link in inode_links if link.startswith("socket:[")}
        tcp_inodes = {line.split()[9] for line in listening.splitlines()[1:] if len(line.split()) > 9}
        assert not sockets & tcp_inodes
    finally:
        store.close()


def test_acknowledged_writes_survive_kill_9_and_restart(tmp_path: Path) -> None:
    store = FalkorDBStore.embedded(tmp_path, die_with_parent=True)
    store.apply_schema()
    for k in range(20):  # 20 acknowledged batches
        store.upsert_interactions([delta(f"u{k}", f"i{j}") for j in range(25)])
    info = EmbeddedServer(tmp_path).info()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    assert wait_dead(info.pid)
    store.close()  # its server is gone; releasing must not fail
    again = FalkorDBStore.embedded(tmp_path, die_with_parent=True)
    try:
        assert again.counts().interactions == 500
        assert again.counts().users == 20
    finally:
        again.close()


def test_pinned_server_outlives_clients_until_stopped(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path)
    info = server.acquire(pinned=True, die_with_parent=True)
    store = FalkorDBStore.embedded(tmp_path)
    store.close()
    assert _pid_alive(info.pid)
    assert server.stop() is True
    assert wait_dead(info.pid)
    assert server.stop() is False


def test_data_persists_across_clean_restart(tmp_path: Path) -> None:
    store = FalkorDBStore.embedded(tmp_path, die_with_parent=True)
    store.upsert_interactions([delta("u", "i", 2.5)])
    store.close()
    store = FalkorDBStore.embedded(tmp_path, die_with_parent=True)
    try:
        assert store.user_interactions(user_id="u")[0].weight == 2.5
    finally:
        store.close()


def test_server_dies_with_a_killed_test_process(tmp_path: Path) -> None:
    """A crashed pytest must not orphan its server (``die_with_parent``)."""
    code = textwrap.dedent(f"""
        import sys, time
        from graphrec.graph.falkordb_store import FalkorDBStore
        s = FalkorDBStore.embedded({str(tmp_path)!r}, die_with_parent=True)
        print("up", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "up"
    info = EmbeddedServer(tmp_path).info()
    assert info is not None
    child.kill()
    child.wait()
    assert wait_dead(info.pid)


def test_long_socket_paths_fall_back_to_a_short_one(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    store = FalkorDBStore.embedded(deep, die_with_parent=True)
    try:
        info = EmbeddedServer(deep).info()
        assert info is not None and len(info.socket) <= 100
        assert store.ping()
    finally:
        store.close()
