"""Stored integration documents as the facade's pydantic results.

Apart from `integrations` so that reading the store (the console's dashboard) never needs
pydantic: only the facade, which returns these models, imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.enums import CredentialSource
from core.models import HealthStatusResult, IntegrationDetailResult, IntegrationSummaryResult
from core.timeutil import from_iso

Doc = Mapping[str, Any]


def to_summary(doc: Doc) -> IntegrationSummaryResult:
    return IntegrationSummaryResult(
        id=doc["id"],
        name=doc["name"],
        provider_type=doc["provider_type"],
        status=doc["status"],
        health_state=doc["health_state"],
        default_model=doc["default_model"],
        created_at=from_iso(doc["created_at"]),
        health_checked_at=from_iso(doc.get("health_checked_at")),
        health_latency_ms=doc.get("health_latency_ms"),
        budget_limit_cents=doc["budget_limit_cents"],
        token_limit_month=doc["token_limit_month"],
        rate_limit_rpm=doc["rate_limit_rpm"],
    )


def to_detail(doc: Doc) -> IntegrationDetailResult:
    cred = doc.get("credential") or {}
    return IntegrationDetailResult(
        id=doc["id"],
        tenant_id=doc["tenant_id"],
        name=doc["name"],
        provider_type=doc["provider_type"],
        status=doc["status"],
        health_state=doc["health_state"],
        health_checked_at=from_iso(doc.get("health_checked_at")),
        health_message=doc.get("health_message"),
        health_reason=doc.get("health_reason"),
        health_latency_ms=doc.get("health_latency_ms"),
        default_model=doc["default_model"],
        budget_limit_cents=doc["budget_limit_cents"],
        token_limit_month=doc["token_limit_month"],
        rate_limit_rpm=doc["rate_limit_rpm"],
        created_at=from_iso(doc["created_at"]),
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
