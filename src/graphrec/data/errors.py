"""The errors a user fixes, not a programmer: bad input files, bad configuration.

Each one's ``str()`` is the one line the CLI prints (``graphrec.commands.failures`` turns them into
exit 2 without a traceback), so it names what to fix: the file, the line, the field or the option.
Raising one of these, rather than printing and exiting where the problem is found, keeps the pure
functions usable from tests and notebooks and leaves one place that decides how the CLI fails.
"""

from __future__ import annotations

from pathlib import Path


class UserError(ValueError):
    """Input the user must fix; ``str()`` is one line naming what (a field, an option, a file)."""


class InputError(UserError):
    """Bad input file; ``str()`` is the one-line message the CLI prints (``FILE:LINE: reason``)."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")
