"""The one error every importer raises for bad input: it names the file, the line and the reason."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input file; ``str()`` is the one-line message the CLI prints (``FILE:LINE: reason``)."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")
