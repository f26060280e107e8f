"""Provider health: live probes, the health log, checks of many integrations at once.

Filled in by the health issue; until then the live parts raise NotImplementedError.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .context import CoreContext
from .models import HealthCheckResult


class HealthService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def test_credentials(
        self, tenant_id: str, integration_id: str, **options: Any
    ) -> HealthCheckResult | None:
        raise NotImplementedError("live probes arrive with the health issue")

    def check_many(self, tenant_id: str, **options: Any) -> AsyncIterator[HealthCheckResult]:
        raise NotImplementedError("live probes arrive with the health issue")

    def get_health_log(
        self, tenant_id: str, integration_id: str | None = None, *, limit: int = 100
    ) -> list[Any]:
        raise NotImplementedError("the health log arrives with the health issue")

    async def aclose(self) -> None:
        return None
