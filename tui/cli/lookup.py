"""How the `byok` commands find integrations: every one of a tenant, or the one a REF names."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import ValidationError
from tui.cli.errors import UsageError

if TYPE_CHECKING:
    from core import IntegrationDetailResult, IntegrationsFacade, IntegrationSummaryResult

PAGE = 1000
T = TypeVar("T")


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


async def act_on(
    facade: IntegrationsFacade,
    args: argparse.Namespace,
    action: Callable[..., Awaitable[T | None]],
    **options: Any,
) -> tuple[IntegrationDetailResult, T]:
    """Resolve `args.ref` and run `action(tenant, id, **options)` on it: the integration and
    the result."""
    current = await resolve(facade, args.tenant, args.ref)
    return current, still_there(await action(args.tenant, current.id, **options), args)


def still_there(result: T | None, args: argparse.Namespace) -> T:
    """A facade call's result on the integration `args.ref` resolved to; None means another
    process deleted it in between, which is said as for a REF that names nothing."""
    if result is None:
        raise UsageError(f"no integration {args.ref!r} in tenant {args.tenant!r}")
    return result
