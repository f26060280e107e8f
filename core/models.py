"""Result models of the public contract (pydantic v2). Datetimes are timezone-aware UTC.

Results are frozen: they are values handed to the console, the CLI and scripts, never handles
back into storage. None of them carries a raw secret.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

# Decision is imported from here too (core.models.Decision): it lived here before.
from core.enums import CredentialSource, Decision, HealthState, IntegrationStatus, ProviderType
from core.readmodels import DOC, LimitFigures, Row


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, use_enum_values=False)


def _fields_of(declaration: type) -> type[_Result]:
    """A result base with the fields of a read-model dataclass of core.readmodels: the same
    names, types, defaults, docs and order, so the pydantic and the light model cannot drift."""
    return create_model(
        f"_{declaration.__name__}Fields",
        __base__=_Result,
        __module__=__name__,
        **{
            f.name: (
                f.type,
                Field(... if f.default is MISSING else f.default, description=f.metadata.get(DOC)),
            )
            for f in fields(declaration)
        },
    )


class IntegrationSummaryResult(_fields_of(Row)):  # type: ignore[misc]
    """One row of a list: enough for a table, nothing secret."""


class IntegrationListResult(_Result):
    items: list[IntegrationSummaryResult]
    total: int = Field(description="count of all matches, not of the page")


class IntegrationDetailResult(_Result):
    id: str
    tenant_id: str
    name: str
    provider_type: ProviderType
    status: IntegrationStatus
    health_state: HealthState
    health_checked_at: datetime | None
    health_message: str | None
    default_model: str | None
    budget_limit_cents: int
    token_limit_month: int
    rate_limit_rpm: int
    created_at: datetime
    updated_at: datetime | None
    created_by: str | None
    credential_hint: str | None
    credential_source: CredentialSource
    config: dict[str, Any]
    health_reason: str | None = None
    health_latency_ms: int | None = None
    limits_source: str = Field(
        default="max", description="what the limits count: recorded, reported or max"
    )
    budget_period: str = Field(
        default="month", description="'day', 'week' (Monday 00:00) or 'month', in UTC: the "
        "period of budget_limit_cents and token_limit_month"
    )
    alert_thresholds: list[int] = Field(
        default_factory=lambda: [80, 100],
        description="percents of the budget and token limits that raise an alert",
    )


class IntegrationLifecycleResult(_Result):
    integration_id: str
    status: IntegrationStatus
    message: str


class IntegrationDeleteResult(_Result):
    deleted: bool
    integration_id: str


class HealthCheckResult(_Result):
    integration_id: str
    health_state: HealthState
    message: str | None
    latency_ms: int | None
    checked_at: datetime
    reason: str
    http_status: int | None = None
    models: list[str] = Field(default_factory=list)
    retry_after_s: float | None = None
    rate_limits: dict[str, Any] = Field(default_factory=dict)
    provider_info: dict[str, Any] = Field(default_factory=dict)


class HealthLogEntry(_Result):
    """One probe in the health log (newest first from get_health_log). Never holds the secret."""

    integration_id: str
    integration_name: str | None = None
    provider_type: ProviderType | None = None
    health_state: HealthState
    reason: str
    message: str | None
    latency_ms: int | None
    http_status: int | None = None
    checked_at: datetime
    deep: bool = False
    seq: int = 0


class HealthStatusResult(_Result):
    integration_id: str
    health_state: HealthState
    health_message: str | None
    health_checked_at: datetime | None
    health_reason: str | None = None
    health_latency_ms: int | None = None


class LimitsStatusResult(_fields_of(LimitFigures)):  # type: ignore[misc]
    """An integration's usage against its limits in its current budget period (UTC; the
    calendar month unless its `budget_period` is a day or a week)."""


class UsageRecordResult(_Result):
    accepted: bool
    duplicate: bool
    cost_cents: float
    priced: bool
    integration_id: str | None = None
    call_id: str | None = None


class LimitDecision(_Result):
    decision: Decision
    reasons: list[str] = Field(default_factory=list)
    retry_after_s: float | None = None
    integration_id: str | None = None


class AlertDelivery(_Result):
    """Where `byok watch` stands with an alert on one channel (see core.watch.outbox)."""

    channel: str
    state: str = Field(description="'pending' (to be tried again), 'delivered' or 'dead'")
    attempts: int
    last_error: str | None = None
    delivered_at: datetime | None = None


class Alert(_Result):
    """A usage threshold (one of the integration's `alert_thresholds`, 80% and 100% by default,
    of a budget or token limit) reached in a budget period (a month, week or day, UTC).

    Raised once per integration, period, limit and threshold, when recording usage reaches it,
    or a spend sync brings the provider's reported figure there (where the integration's limits
    count it: `limits_source` reported, or max with the reported figure the larger).
    """

    id: str
    integration_id: str
    integration_name: str | None
    kind: str = Field(description="'budget' (cents) or 'tokens'")
    threshold: int = Field(description="percent: one of the integration's alert_thresholds")
    limit: int
    used: int = Field(description="cents (rounded half up) or tokens, when the alert was raised")
    percent: float
    period_start: datetime
    period_end: datetime
    created_at: datetime
    message: str
    period: str = Field(
        default="", description="'YYYY-MM' (month), 'YYYY-Www' (ISO week) or 'YYYY-MM-DD' (day)"
    )
    deliveries: list[AlertDelivery] = Field(
        default_factory=list, description="one per channel once a watcher has announced it"
    )
    source: str = Field(
        default="recorded",
        description="what reached the threshold: 'recorded' usage or 'reported' spend (a sync)",
    )


class WatchAlert(_Result):
    """An alert raised by `byok watch`'s own rules, beside the usage alerts (`Alert`): a health
    transition, a low credit runway or drift between recorded and reported spend. Raised once
    per integration (or account), day or period and threshold (see core.watch.rules and
    core.watch.spendrules); listed by `get_watch_alerts` and `byok alerts`.
    """

    id: str = Field(description="the event's key: names it for ever, and rides in each message")
    kind: str = Field(
        description="'health_failing', 'health_recovered', 'runway_low' or 'spend_drift'"
    )
    integration_id: str | None = Field(description="None for an account's runway")
    integration_name: str | None = None
    title: str
    message: str
    created_at: datetime
    deliveries: list[AlertDelivery] = Field(
        default_factory=list, description="one per channel set up when it was raised"
    )


class BatchResult(_Result):
    """What `record_usage_batch` stored. Everything counted as accepted is durable."""

    accepted: int
    duplicates: int
    not_found: int
    unpriced: int
    cost_cents: float = Field(description="cost of the accepted records")
    duplicate_indexes: list[int] = Field(default_factory=list)
    not_found_indexes: list[int] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)


class ImportLineError(_Result):
    line: int
    message: str


class ImportReport(_Result):
    """The outcome of a JSON Lines import: good lines are stored, bad lines listed by number."""

    lines: int = Field(description="non-blank lines read")
    imported: int
    duplicates: int
    unpriced: int
    cost_cents: float
    errors: list[ImportLineError] = Field(default_factory=list)
    error_count: int = 0
