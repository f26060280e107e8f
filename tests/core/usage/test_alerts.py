"""Threshold alerts: 80% and 100% of a budget or token limit, once per period per threshold,
newest first, kept across restarts, scoped by tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import Clock

from core import Alert, IntegrationsFacade, ValidationError

T = "acme"



async def _spend(f: IntegrationsFacade, iid: str, cents: float = 0, tokens: int = 0) -> None:
    r = await f.record_usage(T, iid, model="m", input_tokens=tokens, output_tokens=0,
                             cost_cents=cents)
    assert r is not None and r.accepted


async def test_budget_alerts_once_per_threshold_per_period(db_path: Path) -> None:
    clock = Clock(datetime(2026, 6, 10, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock)
    d = await f.create_integration(T, name="prod", provider_type="ollama", budget_limit_cents=100)
    await _spend(f, d.id, 79.99)
    assert await f.get_alerts(T) == []
    clock.advance(seconds=1)
    await _spend(f, d.id, 0.01)  # exactly 80%
    [warn] = await f.get_alerts(T)
    assert isinstance(warn, Alert)
    assert (warn.kind, warn.threshold, warn.limit, warn.used) == ("budget", 80, 100, 80)
    assert warn.percent == pytest.approx(80.0)
    assert warn.integration_id == d.id and warn.integration_name == "prod"
    assert warn.period_start == datetime(2026, 6, 1, tzinfo=UTC)
    assert warn.period_end == datetime(2026, 7, 1, tzinfo=UTC)
    assert "prod reached 80% of its budget for 2026-06" in warn.message
    clock.advance(seconds=1)
    await _spend(f, d.id, 5)  # still between 80 and 100: nothing new
    assert len(await f.get_alerts(T)) == 1
    clock.advance(seconds=1)
    await _spend(f, d.id, 30)  # 115%
    alerts = await f.get_alerts(T)
    assert [(a.kind, a.threshold) for a in alerts] == [("budget", 100), ("budget", 80)]
    assert alerts[0].used == 115 and alerts[0].created_at > alerts[1].created_at
    clock.advance(seconds=1)
    await _spend(f, d.id, 50)
    assert len(await f.get_alerts(T)) == 2

    # a new month: the thresholds can be crossed again
    clock.now = datetime(2026, 7, 1, 0, 0, 1, tzinfo=UTC)
    await _spend(f, d.id, 100)
    alerts = await f.get_alerts(T)
    assert len(alerts) == 4
    assert {a.threshold for a in alerts[:2]} == {80, 100}
    assert all(a.period_start == datetime(2026, 7, 1, tzinfo=UTC) for a in alerts[:2])
    await f.aclose()

    # kept across a restart, still newest first
    g = IntegrationsFacade(db_path, clock=clock)
    assert [a.id for a in await g.get_alerts(T)] == [a.id for a in alerts]
    await _spend(g, d.id, 1)
    assert len(await g.get_alerts(T)) == 4  # no repeat after the restart either
    await g.aclose()


async def test_token_alerts_and_a_batch_crossing_both_thresholds(
    facade: IntegrationsFacade,
) -> None:
    d = await facade.create_integration(
        T, name="tok", provider_type="ollama", token_limit_month=1000
    )
    rows = [{"integration_id": d.id, "model": "m", "input_tokens": 300, "output_tokens": 0}] * 4
    result = await facade.record_usage_batch(T, rows)
    assert sorted((a.kind, a.threshold) for a in result.alerts) == [("tokens", 80), ("tokens", 100)]
    alerts = await facade.get_alerts(T, d.id)
    assert {a.used for a in alerts} == {1200}
    assert "monthly token limit" in alerts[0].message


async def test_no_alerts_without_limits(facade: IntegrationsFacade) -> None:
    d = await facade.create_integration(T, name="free", provider_type="ollama")
    await _spend(facade, d.id, 10**6, 10**9)
    assert await facade.get_alerts(T) == []


async def test_lowering_a_limit_alerts_with_the_next_record(facade: IntegrationsFacade) -> None:
    d = await facade.create_integration(T, name="x", provider_type="ollama", budget_limit_cents=100)
    await _spend(facade, d.id, 50)
    await facade.update_integration(T, d.id, budget_limit_cents=50)
    assert await facade.get_alerts(T) == []
    await _spend(facade, d.id, 0)
    assert {a.threshold for a in await facade.get_alerts(T)} == {80, 100}


async def test_alerts_filter_limit_and_tenancy(facade: IntegrationsFacade) -> None:
    a = await facade.create_integration(T, name="a", provider_type="ollama", budget_limit_cents=1)
    b = await facade.create_integration(T, name="b", provider_type="ollama", budget_limit_cents=1)
    o = await facade.create_integration(
        "other", name="o", provider_type="ollama", budget_limit_cents=1
    )
    await _spend(facade, a.id, 1)
    await _spend(facade, b.id, 1)
    await facade.record_usage("other", o.id, model="m", input_tokens=1, output_tokens=1,
                              cost_cents=1)
    assert len(await facade.get_alerts(T)) == 4
    assert {x.integration_id for x in await facade.get_alerts(T, a.id)} == {a.id}
    assert len(await facade.get_alerts(T, limit=3)) == 3
    assert {x.integration_id for x in await facade.get_alerts("other")} == {o.id}
    for bad in (0, 1001, True, "5"):
        with pytest.raises(ValidationError):
            await facade.get_alerts(T, limit=bad)  # type: ignore[arg-type]
