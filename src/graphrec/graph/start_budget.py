"""How long the embedded FalkorDB server may take to answer when it starts: a base plus what its data needs.

Why: a server that starts after a crash replays its append-only file (AOF) before it answers, and
replaying graph queries is slow: 1.2 MB of AOF (20k edges) took 26 s and 3.5 MB (60k edges) 83 s on a
quiet 2-core machine (about 23 s/MB; several times that on a loaded one), while the RDB base a clean
stop compacts to loads at about 20 MB/s. While it replays, the server may not even answer a ping, so a
fixed deadline (it was 15 s) killed a good server mid-replay and the next restart started over: a box
with a few MB of AOF never recovered. The deadline therefore grows with the files the server must load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000
# An RDB base loads about a hundred times faster per byte than an AOF replays (see above).
RDB_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class DataFiles:
    """What a starting server must load from its data directory: append-only and RDB bytes."""

    data_dir: Path
    aof_bytes: int = 0
    rdb_bytes: int = 0

    @classmethod
    def scan(cls, data_dir: Path) -> DataFiles:
        """The sizes of the files in ``data_dir/appendonlydir`` (Redis 7's multi-part AOF: an RDB or AOF
        base, incremental AOFs and a manifest, which is not loaded data)."""
        aof = rdb = 0
        folder = data_dir / "appendonlydir"
        for path in folder.iterdir() if folder.is_dir() else ():
            if not path.is_file() or path.name.endswith(".manifest"):
                continue
            if path.name.endswith(".rdb"):
                rdb += path.stat().st_size
            else:
                aof += path.stat().st_size
        return cls(data_dir, aof, rdb)

    @property
    def total_bytes(self) -> int:
        return self.aof_bytes + self.rdb_bytes


@dataclass(frozen=True, slots=True)
class StartBudget:
    """``base_s`` to answer with nothing to load (exec, the module, its threads), plus
    ``replay_s_per_mb`` for every MB of AOF to replay (an RDB MB counts as ``RDB_SHARE`` of one).

    The defaults are ``Settings``' (``GRAPHREC_EMBEDDED_START_S``, ``GRAPHREC_EMBEDDED_REPLAY_S_PER_MB``),
    for servers started without settings (tests, tools); a test holds the two equal."""

    base_s: float = 60.0
    replay_s_per_mb: float = 120.0

    def deadline_s(self, files: DataFiles) -> float:
        """Seconds the server may take to answer when it starts over ``files``."""
        return self.base_s + self.replay_s_per_mb * (files.aof_bytes + RDB_SHARE * files.rdb_bytes) / MB
