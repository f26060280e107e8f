"""The exceptions of the public contract.

Messages are written for people and never hold a secret.
"""

from __future__ import annotations

from collections.abc import Mapping


class IntegrationError(Exception):
    """Base of every error that `core` raises on purpose."""


class ValidationError(IntegrationError, ValueError):
    """Bad input. `errors` maps each offending field to a message a person can act on."""

    def __init__(self, errors: Mapping[str, str] | str, field: str = "input") -> None:
        self.errors: dict[str, str] = {field: errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class DuplicateNameError(IntegrationError, ValueError):
    """The tenant already has an integration of that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.errors = {"name": f"an integration named {name!r} already exists"}
        super().__init__(self.errors["name"])


class InvalidTransitionError(IntegrationError):
    """A lifecycle change the current status does not allow."""


class CredentialError(IntegrationError):
    """A credential that cannot be resolved or decrypted."""


class StoreError(IntegrationError):
    """The database file cannot be read or written. The message names the file."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)
