"""The exceptions of the public contract.

Messages are written for people and never hold a secret. Each error has a `kind`, which is all a
user interface needs to decide how to show it (one table in `tui.errors` does, for the console
and the CLI alike):

    IntegrationError              kind error     the base; anything core raises on purpose
    ├── ValidationError           kind invalid   bad input (also a ValueError)
    ├── DuplicateNameError        kind invalid   a name the tenant already has (also a ValueError)
    ├── InvalidTransitionError    kind refused   a lifecycle change the status does not allow
    ├── CredentialError           kind refused   a credential that cannot be resolved or decrypted
    └── StoreError                kind storage   the database file cannot be read or written
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """What sort of failure an error is, for the people who meet it."""

    ERROR = "error"  # a failure of no more particular kind
    INVALID = "invalid"  # the input is wrong: fix it and try again
    REFUSED = "refused"  # the input is well formed, but the change is not allowed now
    STORAGE = "storage"  # the database cannot be read or written


class IntegrationError(Exception):
    """Base of every error that `core` raises on purpose."""

    kind: ClassVar[ErrorKind] = ErrorKind.ERROR


class ValidationError(IntegrationError, ValueError):
    """Bad input. `errors` maps each offending field to a message a person can act on."""

    kind = ErrorKind.INVALID

    def __init__(self, errors: Mapping[str, str] | str, field: str = "input") -> None:
        self.errors: dict[str, str] = {field: errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class DuplicateNameError(IntegrationError, ValueError):
    """The tenant already has an integration of that name."""

    kind = ErrorKind.INVALID

    def __init__(self, name: str) -> None:
        self.name = name
        self.errors = {"name": f"an integration named {name!r} already exists"}
        super().__init__(self.errors["name"])


class InvalidTransitionError(IntegrationError):
    """A lifecycle change the current status does not allow."""

    kind = ErrorKind.REFUSED


class CredentialError(IntegrationError):
    """A credential that cannot be resolved or decrypted."""

    kind = ErrorKind.REFUSED


class StoreError(IntegrationError):
    """The database file cannot be read or written. The message names the file."""

    kind = ErrorKind.STORAGE

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)
