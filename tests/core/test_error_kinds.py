"""Every core error has a kind, the one thing a user interface needs to decide how to show it."""

from __future__ import annotations

import pytest

import core
from core import errors
from core.errors import ErrorKind, IntegrationError

KINDS = [
    (IntegrationError("x"), ErrorKind.ERROR),
    (errors.ValidationError("must be 1 or more", "rpm"), ErrorKind.INVALID),
    (errors.DuplicateNameError("prod"), ErrorKind.INVALID),
    (errors.InvalidTransitionError("x"), ErrorKind.REFUSED),
    (errors.CredentialError("x"), ErrorKind.REFUSED),
    (errors.StoreError("cannot read /x", "/x"), ErrorKind.STORAGE),
]


@pytest.mark.parametrize(("error", "kind"), KINDS, ids=lambda x: type(x).__name__)
def test_each_error_has_its_kind(error: IntegrationError, kind: ErrorKind) -> None:
    assert error.kind is kind
    assert type(error).kind is kind  # a property of the class, not of one instance


def test_the_kinds_are_strings_and_each_is_used() -> None:
    assert ErrorKind.INVALID == "invalid" and ErrorKind.STORAGE.value == "storage"
    assert {kind for _, kind in KINDS} == set(ErrorKind)


def test_error_kind_is_exported_from_core() -> None:
    assert "ErrorKind" in core.__all__
    assert core.ErrorKind is ErrorKind


def test_a_subclass_keeps_its_parents_kind() -> None:
    class Corrupt(errors.StoreError):
        pass

    assert Corrupt("bad json").kind is ErrorKind.STORAGE
