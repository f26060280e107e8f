"""What raises an alert: the usage thresholds the store raised, and health transitions.

Usage thresholds (each integration's `alert_thresholds`, 80 % and 100 % of a budget or token
limit by default) are raised by the usage store when recording reaches them, once per
integration, budget period (its day, week or month), limit and threshold; the watcher announces
those of a period not over yet (`period_end` in the future). A health transition is an
integration turning `failing` (a probe's verdict) or coming back from it (recovery is news
too); `degraded` (slow, rate limited) and `unknown` (never probed) are neither. Each event has
a key that names it for ever, so a rule evaluated again, by this watcher or the next, never
fires it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.enums import HealthState
from core.timeutil import to_us
from core.watch.outbox import Event


class AlertLike(Protocol):
    id: str
    integration_id: str
    integration_name: str | None
    message: str
    period_end: datetime
    created_at: datetime
    kind: str
    threshold: int


class RowLike(Protocol):
    id: str
    name: str
    health_state: HealthState
    health_checked_at: datetime | None


@dataclass(frozen=True)
class HealthSeen:
    failing: bool
    checked_us: int


def usage_events(tenant: str, alerts: Iterable[AlertLike], now_us: int) -> list[Event]:
    """An event per usage alert of a period not over yet (older ones are history)."""
    return [
        Event(
            key=f"usage/{tenant}/{a.id}",
            tenant_id=tenant,
            integration_id=a.integration_id,
            kind=f"{a.kind}_{a.threshold}",
            title=f"byok: {a.integration_name or a.integration_id} at {a.threshold}% of its "
            f"{'budget' if a.kind == 'budget' else 'token limit'}",
            body=a.message,
            created_us=to_us(a.created_at),
            alert_id=a.id,
        )
        for a in alerts
        if to_us(a.period_end) > now_us
    ]


def seen_key(tenant: str, integration_id: str) -> str:
    return f"health:{tenant}/{integration_id}"


def health_events(
    tenant: str,
    rows: Sequence[RowLike],
    seen: Mapping[str, Mapping[str, Any]],
    now_us: int,
) -> tuple[list[Event], dict[str, dict[str, Any] | None]]:
    """Transitions since the last look, and the `seen` entries to write (None: delete).

    An integration first seen failing is announced (it may have just started failing); one
    first seen healthy is only remembered.
    """
    events: list[Event] = []
    updates: dict[str, dict[str, Any] | None] = {}
    live = set()
    for row in rows:
        key = seen_key(tenant, row.id)
        live.add(key)
        if row.health_state in (HealthState.UNKNOWN, HealthState.DEGRADED):
            continue
        failing = row.health_state == HealthState.FAILING
        checked = to_us(row.health_checked_at) if row.health_checked_at else now_us
        before = seen.get(key)
        if before is not None and bool(before.get("failing")) == failing:
            continue
        updates[key] = {"kind": "health", "failing": failing, "checked_us": checked}
        if failing or before is not None:
            word = "failing" if failing else "recovered"
            events.append(
                Event(
                    key=f"health/{tenant}/{row.id}/{word}/{checked}",
                    tenant_id=tenant,
                    integration_id=row.id,
                    kind=f"health_{word}",
                    title=f"byok: {row.name} is {word}"
                    if failing
                    else f"byok: {row.name} has recovered",
                    body=f"{row.name} ({row.id}) is {row.health_state.value} since its probe "
                    f"at {row.health_checked_at.isoformat() if row.health_checked_at else '?'}",
                    created_us=now_us,
                )
            )
    prefix = f"health:{tenant}/"
    for key in seen:
        if key.startswith(prefix) and key not in live:
            updates[key] = None  # the integration was deleted
    return events, updates
