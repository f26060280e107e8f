"""Exit codes and exceptions of the `byok` command, in their own module.

They live apart from `tui.cli.main` because that module also runs as `python -m tui.cli.main`
(`__main__`), and a class defined there twice would not be caught as the same class.
"""

from __future__ import annotations

EX_OK = 0
EX_USAGE = 64  # sysexits EX_USAGE: bad usage or invalid input; nothing changed
EX_DATAERR = 65  # a refused change, or an import with bad lines
EX_SOFTWARE = 70  # an unexpected failure (a bug)
EX_IOERR = 74  # the database cannot be read or written
EX_INTERRUPTED = 130


class UsageError(Exception):
    """Invalid input found by the CLI itself (exit 64, nothing changed)."""


class CommandError(Exception):
    """A failure with its own exit code and a one-line message."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
