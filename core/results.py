"""Stored integration documents as the facade's pydantic results.

Apart from `integrations` so that reading the store (the console's dashboard) never needs
pydantic: only the facade, which returns these models, imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.enums import CredentialSource
from core.models import HealthStatusResult, IntegrationDetailResult, IntegrationSummaryResult
from core.readmodels import row_values
from core.timeutil import from_iso

Doc = Mapping[str, Any]


def to_summary(doc: Doc) -> IntegrationSummaryResult:
    return IntegrationSummaryResult(**row_values(doc))


def to_detail(doc: Doc) -> IntegrationDetailResult:
    cred = doc.get("credential") or {}
    return IntegrationDetailResult(
        **row_values(doc),
        tenant_id=doc["tenant_id"],
        health_message=doc.get("health_message"),
        health_reason=doc.get("health_reason"),
        updated_at=from_iso(doc.get("updated_at")),
        created_by=doc.get("created_by"),
        credential_hint=cred.get("hint"),
        credential_source=cred.get("source", CredentialSource.NONE.value),
        config=dict(doc.get("config") or {}),
    )


def to_health_status(doc: Doc) -> HealthStatusResult:
    return HealthStatusResult(
        integration_id=doc["id"],
        health_state=doc["health_state"],
        health_message=doc.get("health_message"),
        health_checked_at=from_iso(doc.get("health_checked_at")),
        health_reason=doc.get("health_reason"),
        health_latency_ms=doc.get("health_latency_ms"),
    )
