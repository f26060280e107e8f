"""Usage and limits: recording, pricing, the month's totals, the limit decision.

Filled in by the usage issue; until then these raise NotImplementedError.
"""

from __future__ import annotations

from typing import Any

from .context import CoreContext


class UsageService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    def record_usage(self, tenant_id: str, integration_id: str, **kwargs: Any) -> Any:
        raise NotImplementedError("usage recording arrives with the usage issue")

    def record_usage_batch(self, tenant_id: str, records: Any) -> Any:
        raise NotImplementedError("usage recording arrives with the usage issue")

    def get_limits_status(self, tenant_id: str, integration_id: str) -> Any:
        raise NotImplementedError("limits arrive with the usage issue")

    def check_limits(self, tenant_id: str, integration_id: str, **kwargs: Any) -> Any:
        raise NotImplementedError("limits arrive with the usage issue")

    def get_alerts(self, tenant_id: str, **kwargs: Any) -> Any:
        raise NotImplementedError("alerts arrive with the usage issue")

    def import_jsonl(self, tenant_id: str, source: Any) -> Any:
        raise NotImplementedError("usage import arrives with the usage issue")

    def close(self) -> None:
        return None
