"""get_limits_status: percents (over 100, 0 = unlimited), the rolling minute, and the month
rollover in UTC with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.clock import Clock

from core import IntegrationsFacade

T = "acme"



async def test_percents_go_over_100_and_zero_means_unlimited(facade: IntegrationsFacade) -> None:
    capped = await facade.create_integration(
        T, name="capped", provider_type="ollama",
        budget_limit_cents=10, token_limit_month=1000, rate_limit_rpm=2,
    )
    free = await facade.create_integration(T, name="free", provider_type="ollama")
    for iid in (capped.id, free.id):
        for _ in range(3):
            await facade.record_usage(T, iid, model="llama3", input_tokens=400, output_tokens=100,
                                      cost_cents=4.67)
    s = await facade.get_limits_status(T, capped.id)
    assert s is not None
    assert s.budget_used_cents == 14  # 14.01 -> 14
    assert s.budget_percent == 140.1
    assert s.tokens_used_month == 1500 and s.token_percent == 150.0
    assert s.requests_this_minute == 3 and s.rate_percent == 150.0
    u = await facade.get_limits_status(T, free.id)
    assert u is not None
    assert (u.budget_limit_cents, u.token_limit_month, u.rate_limit_rpm) == (0, 0, 0)
    assert u.budget_percent == u.token_percent == u.rate_percent == 0.0
    assert u.budget_used_cents == 14 and u.tokens_used_month == 1500


async def test_a_fresh_integration_reports_zeros_and_the_period(db_path: Path) -> None:
    clock = Clock(datetime(2026, 7, 19, 8, 30, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock)
    d = await f.create_integration(T, name="x", provider_type="openai", credential="sk-abcdef12")
    s = await f.get_limits_status(T, d.id)
    assert s is not None
    assert (s.budget_used_cents, s.tokens_used_month, s.requests_this_minute) == (0, 0, 0)
    assert s.period_start == datetime(2026, 7, 1, tzinfo=UTC)
    assert s.period_end == datetime(2026, 8, 1, tzinfo=UTC)
    await f.aclose()


async def test_the_minute_rolls_by_event_time(db_path: Path) -> None:
    t0 = datetime(2026, 5, 5, 10, 0, 0, tzinfo=UTC)
    clock = Clock(t0)
    f = IntegrationsFacade(db_path, clock=clock)
    d = await f.create_integration(T, name="x", provider_type="ollama", rate_limit_rpm=10)
    for offset in (0.0, 20.0, 59.5):
        clock.now = t0 + timedelta(seconds=offset)
        await f.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1)
    # a call whose time is 2 minutes back is in the month, not in the minute
    await f.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1,
                         at=t0 - timedelta(minutes=2))

    async def minute() -> int:
        s = await f.get_limits_status(T, d.id)
        assert s is not None
        return s.requests_this_minute

    clock.now = t0 + timedelta(seconds=59.9)
    assert await minute() == 3
    clock.now = t0 + timedelta(seconds=60)  # exactly 60 s after the first: it has left
    assert await minute() == 2
    clock.now = t0 + timedelta(seconds=80, microseconds=1)
    assert await minute() == 1
    clock.now = t0 + timedelta(seconds=119.5)
    assert await minute() == 0
    s = await f.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 4
    await f.aclose()


async def test_the_minute_is_shared_between_open_facades(db_path: Path) -> None:
    clock = Clock(datetime(2026, 5, 5, 10, 0, tzinfo=UTC))
    a = IntegrationsFacade(db_path, clock=clock)
    b = IntegrationsFacade(db_path, clock=clock)
    d = await a.create_integration(T, name="x", provider_type="ollama", rate_limit_rpm=2)
    await a.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1)
    await b.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1)
    for f in (a, b):
        s = await f.get_limits_status(T, d.id)
        assert s is not None and s.requests_this_minute == 2 and s.rate_percent == 100.0
    await a.aclose()
    await b.aclose()


async def test_month_rollover_in_utc(db_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 31, 23, 59, 59, 900000, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock)
    d = await f.create_integration(
        T, name="x", provider_type="ollama", budget_limit_cents=100, token_limit_month=100
    )
    await f.record_usage(T, d.id, model="m", input_tokens=50, output_tokens=40, cost_cents=90)
    jan = await f.get_limits_status(T, d.id)
    assert jan is not None
    assert jan.period_start == datetime(2026, 1, 1, tzinfo=UTC)
    assert jan.period_end == datetime(2026, 2, 1, tzinfo=UTC)
    assert (jan.budget_used_cents, jan.tokens_used_month, jan.requests_month) == (90, 90, 1)
    decision = await f.check_limits(T, d.id)
    assert decision is not None and decision.decision == "warned"

    clock.advance(seconds=0.1)  # 2026-02-01T00:00:00Z: a new period
    feb = await f.get_limits_status(T, d.id)
    assert feb is not None
    assert feb.period_start == datetime(2026, 2, 1, tzinfo=UTC)
    assert feb.period_end == datetime(2026, 3, 1, tzinfo=UTC)
    assert (feb.budget_used_cents, feb.tokens_used_month, feb.requests_month) == (0, 0, 0)
    assert feb.budget_percent == 0.0
    assert feb.requests_this_minute == 1  # the minute rolls by time, not by month
    decision = await f.check_limits(T, d.id)
    assert decision is not None and decision.decision == "allowed"

    # a late record for January still counts in January, not in February
    await f.record_usage(T, d.id, model="m", input_tokens=5, output_tokens=5, cost_cents=1,
                         at=datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    feb = await f.get_limits_status(T, d.id)
    assert feb is not None and feb.requests_month == 0
    await f.aclose()

    # reopened with the clock back in January: January's totals, both records
    back = IntegrationsFacade(db_path, clock=lambda: datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    jan = await back.get_limits_status(T, d.id)
    assert jan is not None and (jan.budget_used_cents, jan.requests_month) == (91, 2)
    await back.aclose()


async def test_year_rollover(db_path: Path) -> None:
    clock = Clock(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock)
    d = await f.create_integration(T, name="x", provider_type="ollama")
    await f.record_usage(T, d.id, model="m", input_tokens=5, output_tokens=5)
    clock.advance(seconds=1)
    s = await f.get_limits_status(T, d.id)
    assert s is not None
    assert s.period_start == datetime(2027, 1, 1, tzinfo=UTC)
    assert s.period_end == datetime(2027, 2, 1, tzinfo=UTC)
    assert s.tokens_used_month == 0
    await f.aclose()


async def test_limits_follow_an_update(facade: IntegrationsFacade) -> None:
    d = await facade.create_integration(T, name="x", provider_type="ollama", budget_limit_cents=10)
    await facade.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1, cost_cents=5)
    await facade.update_integration(T, d.id, budget_limit_cents=4)
    s = await facade.get_limits_status(T, d.id)
    assert s is not None and s.budget_limit_cents == 4 and s.budget_percent == 125.0
