"""The `byok` command's own failures (the exit codes are in `tui.errors`, with the core's).

They live apart from `tui.cli.main` because that module also runs as `python -m tui.cli.main`
(`__main__`), and a class defined there twice would not be caught as the same class.
"""

from __future__ import annotations


class UsageError(Exception):
    """Invalid input found by the CLI itself (exit 64, nothing changed)."""


class CommandError(Exception):
    """A failure with its own exit code and a one-line message."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
