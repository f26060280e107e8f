"""The spend rules: low runway (once per account, threshold and month; a top-up re-arms it) and
drift (once per integration, day and threshold, above a percentage and a floor in cents)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.timeutil import to_iso, to_us
from core.watch.spendrules import Balance, drift_events, drift_percent, runway_events

NOW = datetime(2026, 12, 10, 6, tzinfo=UTC)


def balance(runway: float | None, account: str = "acc1") -> Balance:
    return Balance("t1", account, "router", "openrouter", "USD", 5000.0, runway)


class Seen:
    def __init__(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}
        self.keys: list[str] = []

    def look(self, runway: float | None, at: datetime = NOW, days: float = 7) -> list[str]:
        events, updates = runway_events([balance(runway)], self.seen, days, to_us(at))
        for key, value in updates.items():
            if value is None:
                self.seen.pop(key, None)
            else:
                self.seen[key] = value
        new = [e.key for e in events if e.key not in self.keys]
        self.keys += new
        return [e.kind for e in events]


def test_low_runway_fires_once_and_a_top_up_re_arms_it() -> None:
    s = Seen()
    assert s.look(10) == []
    assert s.look(6.5) == ["runway_low"]
    assert s.look(3) == []  # still low: said once
    assert s.look(None) == []  # unknown (no burn): changes nothing
    assert s.look(2) == []
    assert s.look(30) == []  # topped up: re-armed, no alert
    assert s.look(5) == ["runway_low"]  # low again, the same month: said again
    assert len(set(s.keys)) == 2
    assert s.look(5, NOW + timedelta(days=25)) == ["runway_low"]  # still low a month on
    assert s.look(5, days=3) == []  # a lower threshold: not below it
    assert len(set(s.keys)) == 3


def test_the_runway_alert_names_the_account_and_its_figures() -> None:
    (event,), _ = runway_events([balance(6.5)], {}, 7, to_us(NOW))
    assert event.title == "byok: router has 6.5 days of credit left"
    assert "50.00 USD" in event.body and "threshold: 7 days" in event.body
    assert event.integration_id is None and event.tenant_id == "t1"


def day_row(day: int, recorded: float | None, reported: float, synced: datetime | None = None):
    start = datetime(2026, 12, day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return {
        "integration_id": "i1",
        "period_start": to_iso(start),
        "period_end": to_iso(end),
        "recorded_cents": recorded,
        "reported_cents": reported,
        "drift_cents": None if recorded is None else recorded - reported,
        "synced_at": to_iso(synced or end + timedelta(hours=2)),
    }


def drifted(*rows: dict[str, Any], percent: float = 20, floor: float = 100) -> list[str]:
    events = drift_events("t1", rows, {"i1": "prod"}, percent, floor, to_us(NOW))
    return [e.key for e in events]


def test_drift_above_the_percentage_and_the_floor_fires_per_day_and_threshold() -> None:
    assert drifted(day_row(8, 50, 250)) == ["drift/t1/i1/2026-12-08/20"]
    assert drifted(day_row(8, 300, 100)) == ["drift/t1/i1/2026-12-08/20"]  # recorded more
    assert drifted(day_row(8, 50, 250), percent=90) == []  # 80 % is not above 90 %
    assert drifted(day_row(8, 50, 250), percent=50) == ["drift/t1/i1/2026-12-08/50"]
    assert drifted(day_row(8, 1, 2)) == []  # 50 % of 2 cents: under the floor
    assert drifted(day_row(8, 1, 2), floor=0.5) == ["drift/t1/i1/2026-12-08/20"]
    assert drifted(day_row(8, 1000, 1100)) == []  # 100 cents, but 9 %
    assert drifted(day_row(8, None, 500)) == []  # recorded not known: no drift


def test_drift_counts_only_settled_recent_days() -> None:
    assert drifted(day_row(10, 0, 500)) == []  # today: not over
    assert drifted(day_row(9, 0, 500, synced=datetime(2026, 12, 10, 0, 30, tzinfo=UTC))) == []
    assert drifted(day_row(9, 0, 500)) == ["drift/t1/i1/2026-12-09/20"]
    assert drifted(day_row(6, 0, 500)) == []  # over 3 days ago: history


def test_drift_percent_is_of_the_larger_figure() -> None:
    assert drift_percent(0, 0) == 0
    assert drift_percent(50, 250) == 80
    assert drift_percent(250, 50) == 80
    assert drift_percent(0, 3) == 100
