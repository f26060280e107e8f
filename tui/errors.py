"""How a core error is shown to a person: one table, by the error's kind, for the console and the
CLI alike. No Textual here, so that `byok list` does not pay for it.

The exit codes are sysexits(3) codes, part of the CLI's interface (monitoring reads them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import ErrorKind, IntegrationError, StoreError, ValidationError

EX_OK = 0
EX_USAGE = 64  # bad usage or invalid input; nothing changed
EX_DATAERR = 65  # a refused change, or an import with bad lines
EX_SOFTWARE = 70  # an unexpected failure (a bug)
EX_IOERR = 74  # the database cannot be read or written
EX_INTERRUPTED = 130

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Shown:
    """One kind of failure as people see it."""

    exit_code: int  # the CLI's exit status
    prefix: str  # the CLI's words before the sentence: `byok: <prefix><sentence>`
    title: str  # the console notification's title
    severity: Severity  # the console notification's severity


SHOWN: dict[ErrorKind, Shown] = {
    ErrorKind.INVALID: Shown(EX_USAGE, "invalid input: ", "Invalid input", "error"),
    ErrorKind.REFUSED: Shown(EX_DATAERR, "refused: ", "Refused", "error"),
    ErrorKind.STORAGE: Shown(EX_IOERR, "database error: ", "Database error", "error"),
    ErrorKind.ERROR: Shown(EX_DATAERR, "", "Error", "error"),
}
# Anything core did not raise on purpose is a bug; the CLI adds the exception's type in brackets.
UNEXPECTED = Shown(EX_SOFTWARE, "internal error", "Internal error", "error")


def sentence(exc: IntegrationError) -> str:
    """What went wrong, in words: each field's message for bad input, the file for storage."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    text = str(exc)
    if isinstance(exc, StoreError) and exc.path and exc.path not in text:
        text = f"{text} ({exc.path})"
    return text
