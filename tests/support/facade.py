"""Helpers for tests that drive the facade directly."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from core import IntegrationsFacade

# The `open_facade` fixture (tests/conftest.py): IntegrationsFacade(db_path, **options).
OpenFacade = Callable[..., IntegrationsFacade]


def crud_calls(facade: IntegrationsFacade, tenant: Any, iid: str) -> list[Coroutine[Any, Any, Any]]:
    """One call of each integration method: list, get, create, update, delete, enable."""
    return [
        facade.list_integrations(tenant),
        facade.get_integration(tenant, iid),
        facade.create_integration(tenant, name="n", provider_type="ollama"),
        facade.update_integration(tenant, iid, name="n"),
        facade.delete_integration(tenant, iid),
        facade.enable_integration(tenant, iid),
    ]
