"""Where the local Neo4j keeps its files: one folder, ``<GRAPHREC_DATA_DIR>/neo4j``.

Why one folder: ``start``, ``stop`` and ``status`` are separate processes that meet only through these
files, so each path is named once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Layout:
    """The files of one local Neo4j, all under ``home``."""

    home: Path

    @classmethod
    def under(cls, data_dir: Path) -> Layout:
        return cls((data_dir / "neo4j").absolute())

    @property
    def data(self) -> Path:
        """Neo4j's data directory (databases, transaction logs, users): kept across restarts."""
        return self.home / "data"

    @property
    def work(self) -> Path:
        """The launcher's work folder (plugins, the harness's run folder): rebuilt at every start."""
        return self.home / "run"

    @property
    def browser_files(self) -> Path:
        """What the launcher's small file server serves to Browser: ``guide.html``, ``style.grass``."""
        return self.home / "browser"

    @property
    def pid_file(self) -> Path:
        return self.home / "neo4j.pid"

    @property
    def ports_file(self) -> Path:
        """The ports of the running server (JSON), for ``status`` and ``stop``."""
        return self.home / "ports.json"

    @property
    def log_file(self) -> Path:
        """The JVM's output, appended at every start: where a failed start says to look."""
        return self.home / "neo4j.log"

    @property
    def password_file(self) -> Path:
        """The ``neo4j`` user's password, mode 0600."""
        return self.home / "password"
