"""How the `byok` commands find integrations: every one of a tenant, or the one a REF names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import ValidationError
from tui.cli.errors import UsageError

if TYPE_CHECKING:
    from core import IntegrationDetailResult, IntegrationsFacade, IntegrationSummaryResult

PAGE = 1000


async def every(
    facade: IntegrationsFacade, tenant: str, **filters: Any
) -> list[IntegrationSummaryResult]:
    """All the tenant's integrations that match the filters, newest first, read page by page."""
    items: list[IntegrationSummaryResult] = []
    while True:
        page = await facade.list_integrations(tenant, offset=len(items), limit=PAGE, **filters)
        items.extend(page.items)
        if not page.items or len(items) >= page.total:
            return items


async def resolve(facade: IntegrationsFacade, tenant: str, ref: str) -> IntegrationDetailResult:
    """The integration a REF names (the core's rules: id, name or unique id start), or a
    UsageError that says why there is none."""
    if not ref.strip():
        raise UsageError("REF cannot be empty: give an integration id or name")
    try:
        found = await facade.resolve_integration(tenant, ref)
    except ValidationError as exc:
        if "ref" not in exc.errors:
            raise
        raise UsageError(exc.errors["ref"]) from None
    if found is None:
        raise UsageError(f"no integration {ref!r} in tenant {tenant!r} (give an id or a name)")
    return found
