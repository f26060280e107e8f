"""The tests' clocks, injected as `IntegrationsFacade(db, clock=...)`: one that tests move by
hand, and one that never moves (so the console's "3m ago" is stable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fixed_clock() -> datetime:
    return T0
