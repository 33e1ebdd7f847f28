"""The embedded server's start deadline: a base plus time for the files it loads, from the settings; past
it the start fails naming the data dir, its size and the deadline, and leaves no server behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrec.config import Settings
from graphrec.graph.embedded import EmbeddedServer, EmbeddedStoreError
from graphrec.graph.factory import embedded_server, start_budget
from graphrec.graph.start_budget import MB, RDB_SHARE, DataFiles, StartBudget


def _files(root: Path, **sizes: int) -> Path:
    """``root/appendonlydir`` holding files of the given sizes (names with dots: ``name__ext``)."""
    folder = root / "appendonlydir"
    folder.mkdir(parents=True)
    for name, size in sizes.items():
        (folder / name.replace("__", ".")).write_bytes(b"x" * size)
    return root


def test_an_empty_data_dir_gets_the_base() -> None:
    assert StartBudget(base_s=7.0, replay_s_per_mb=100.0).deadline_s(DataFiles(Path("/nowhere"))) == 7.0
    assert DataFiles.scan(Path("/nowhere/at/all")) == DataFiles(Path("/nowhere/at/all"))


def test_the_deadline_grows_with_the_append_only_file_to_replay(tmp_path: Path) -> None:
    budget = StartBudget(base_s=10.0, replay_s_per_mb=50.0)
    small = DataFiles(tmp_path, aof_bytes=MB)
    large = DataFiles(tmp_path, aof_bytes=4 * MB)
    assert budget.deadline_s(small) == pytest.approx(60.0)
    assert budget.deadline_s(large) == pytest.approx(210.0)


def test_an_rdb_base_counts_for_its_share_of_an_aof(tmp_path: Path) -> None:
    budget = StartBudget(base_s=0.0, replay_s_per_mb=100.0)
    rdb = budget.deadline_s(DataFiles(tmp_path, rdb_bytes=10 * MB))
    aof = budget.deadline_s(DataFiles(tmp_path, aof_bytes=10 * MB))
    assert rdb == pytest.approx(RDB_SHARE * aof) and 0 < rdb < aof


def test_scan_sizes_the_aof_and_rdb_parts_but_not_the_manifest_or_other_files(tmp_path: Path) -> None:
    root = _files(
        tmp_path,
        appendonly__aof__2__base__rdb=3_000,
        appendonly__aof__2__incr__aof=500,
        appendonly__aof__3__incr__aof=250,
        appendonly__aof__manifest=90,
    )
    (tmp_path / "server.log").write_bytes(b"y" * 10_000)
    (tmp_path / "events.sqlite").write_bytes(b"z" * 10_000)
    files = DataFiles.scan(root)
    assert (files.aof_bytes, files.rdb_bytes, files.total_bytes) == (750, 3_000, 3_750)


def test_the_settings_make_the_budget_and_their_defaults_are_the_budgets(tmp_path: Path) -> None:
    assert start_budget(Settings()) == StartBudget()  # one default, whether started with settings or not
    s = Settings(data_dir=tmp_path, embedded_start_s=5.0, embedded_replay_s_per_mb=7.0)
    assert start_budget(s) == StartBudget(base_s=5.0, replay_s_per_mb=7.0)
    assert embedded_server(s).start_budget == StartBudget(base_s=5.0, replay_s_per_mb=7.0)
    with pytest.raises(ValueError, match="embedded_start_s"):
        Settings(embedded_start_s=0)


@pytest.mark.integration  # starts a real embedded server
def test_a_start_past_its_deadline_fails_naming_the_data_dir_its_size_and_the_deadline(tmp_path: Path) -> None:
    _files(tmp_path, appendonly__aof__1__incr__aof=2 * MB)
    # no time at all: the server cannot have answered at the first look (its socket does not exist yet)
    server = EmbeddedServer(tmp_path, start_budget=StartBudget(base_s=0.0, replay_s_per_mb=0.0))
    with pytest.raises(EmbeddedStoreError) as info:
        server.acquire()
    message = str(info.value)
    assert str(tmp_path.resolve()) in message
    assert "deadline of 0 s" in message
    assert "2.0 MB of append-only file and 0.0 MB of RDB" in message
    assert "GRAPHREC_EMBEDDED_START_S" in message and "GRAPHREC_EMBEDDED_REPLAY_S_PER_MB" in message
    assert server.info() is None  # the server that did not answer was stopped, not left running
