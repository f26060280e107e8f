"""The alert rules on provider-reported spend (core.spend): low credit runway and drift.

Runway: an account whose runway (days its balance lasts at the last 7 days' burn) is below
`days` fires once per account, threshold and UTC month; a runway back at or above the threshold
(a top-up) re-arms it, so the next drop fires again, in the same month too. An unknown runway (no
burn, a balance not in dollars) changes nothing.

Drift: a UTC day of an integration whose recorded and reported spend differ by more than
`percent` % of the larger of the two, and by at least `floor_cents` (so 1 cent against 2 is not
100 % drift), fires once per integration, day and threshold. Only a day that is over and was
synced at least SETTLE after its end counts (the providers' reports lag), and only the last
LOOKBACK days (older ones are history, and the usage log no longer knows what was recorded).
A day is closed: a later sync that brings it back within bounds fires nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.timeutil import from_iso, to_us
from core.watch.outbox import Event

SETTLE_US = 3600 * 1_000_000
LOOKBACK_US = 3 * 86_400 * 1_000_000


@dataclass(frozen=True)
class Balance:
    """One account's balance and runway, as `byok spend` shows them."""

    tenant: str
    account_id: str
    account: str
    provider: str
    currency: str | None
    balance_cents: float
    runway_days: float | None


def runway_key(tenant: str, account_id: str) -> str:
    return f"runway:{tenant}/{account_id}"


def _month(now_us: int) -> str:
    return datetime.fromtimestamp(now_us / 1e6, UTC).strftime("%Y-%m")


def runway_events(
    balances: Iterable[Balance],
    seen: Mapping[str, Mapping[str, Any]],
    days: float,
    now_us: int,
) -> tuple[list[Event], dict[str, dict[str, Any] | None]]:
    """Low-runway events and the `seen` entries to write (see the module docstring)."""
    events: list[Event] = []
    updates: dict[str, dict[str, Any] | None] = {}
    month = _month(now_us)
    for b in balances:
        if b.runway_days is None:
            continue
        key = runway_key(b.tenant, b.account_id)
        before = seen.get(key) or {}
        low = b.runway_days < days
        if not low:
            if before.get("low"):
                updates[key] = {**before, "low": False}
            continue
        if before.get("low") and before.get("month") == month:
            continue
        episode = int(before.get("episode", -1)) + 1 if before.get("month") == month else 0
        updates[key] = {"kind": "runway", "low": True, "month": month, "episode": episode}
        events.append(
            Event(
                key=f"runway/{b.tenant}/{b.account_id}/{days:g}d/{month}/{episode}",
                tenant_id=b.tenant,
                integration_id=None,
                kind="runway_low",
                title=f"byok: {b.account} has {b.runway_days:g} days of credit left",
                body=f"The {b.provider} account {b.account} has a balance of "
                f"{b.balance_cents / 100:.2f} {b.currency or ''}".rstrip()
                + f", {b.runway_days:g} days at the last 7 days' burn (threshold: {days:g} days).",
                created_us=now_us,
            )
        )
    return events, updates


def drift_percent(recorded: float, reported: float) -> float:
    """The difference as a percentage of the larger figure (0 when both are 0)."""
    base = max(abs(recorded), abs(reported))
    return 0.0 if base == 0 else abs(recorded - reported) / base * 100


def drift_events(
    tenant: str,
    rows: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    percent: float,
    floor_cents: float,
    now_us: int,
) -> list[Event]:
    """Drift events of `byok spend`'s day rows (see the module docstring)."""
    events: list[Event] = []
    for r in rows:
        rec, rep = r.get("recorded_cents"), r.get("reported_cents")
        end, synced = from_iso(r.get("period_end")), from_iso(r.get("synced_at"))
        if rec is None or rep is None or end is None or synced is None:
            continue
        end_us = to_us(end)
        if end_us > now_us or now_us - end_us > LOOKBACK_US or to_us(synced) < end_us + SETTLE_US:
            continue
        diff = rec - rep
        share = drift_percent(rec, rep)
        if abs(diff) < floor_cents or share <= percent:
            continue
        iid = r["integration_id"]
        name = names.get(iid, iid)
        day = str(r["period_start"])[:10]
        what = "more than the provider reported" if diff > 0 else "less than the provider reported"
        events.append(
            Event(
                key=f"drift/{tenant}/{iid}/{day}/{percent:g}",
                tenant_id=tenant,
                integration_id=iid,
                kind="spend_drift",
                title=f"byok: {name} drifted {share:.0f}% from the provider's figure on {day}",
                body=f"{name} ({iid}) on {day} (UTC): recorded {rec:.2f} cents, reported "
                f"{rep:.2f} cents; byok recorded {abs(diff):.2f} cents {what} "
                f"(threshold: {percent:g}% and {floor_cents:g} cents).",
                created_us=now_us,
            )
        )
    return events
