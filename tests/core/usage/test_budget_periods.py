"""Budget periods (`budget_period`: day, week from Monday 00:00, month; UTC) and per-integration
alert thresholds (`alert_thresholds`), over the real TinyDB file and the real usage log: the
period bounds of limits, of check_limits' decisions and of alerts at each boundary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.clock import Clock
from support.facade import OpenFacade

from core import Decision, IntegrationsFacade, ValidationError

T = "acme"


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


async def _spend(f: IntegrationsFacade, iid: str, cents: float, at: datetime | None = None,
                 tokens: int = 0) -> None:  # fmt: skip
    r = await f.record_usage(T, iid, model="m", input_tokens=tokens, output_tokens=0,
                             cost_cents=cents, at=at)  # fmt: skip
    assert r is not None and r.accepted


async def _make(f: IntegrationsFacade, period: str, **extra: object) -> str:
    d = await f.create_integration(T, name=f"i-{period}", provider_type="ollama",
                                   budget_limit_cents=100, budget_period=period,
                                   **extra)  # type: ignore[arg-type]  # fmt: skip
    assert d.budget_period == period
    return d.id


@pytest.mark.parametrize(
    ("period", "last", "first", "start", "end"),
    [
        # a day: 23:59:59 is the old day, 00:00 the new one
        ("day", _utc(2026, 12, 2, 23, 59, 59), _utc(2026, 12, 3),
         _utc(2026, 12, 2), _utc(2026, 12, 3)),
        # a week: Sunday 23:59:59 -> Monday 00:00 (2026-12-06 is a Sunday)
        ("week", _utc(2026, 12, 6, 23, 59, 59), _utc(2026, 12, 7),
         _utc(2026, 11, 30), _utc(2026, 12, 7)),
        # a month end (December -> January, a new year)
        ("month", _utc(2026, 12, 31, 23, 59, 59), _utc(2027, 1, 1),
         _utc(2026, 12, 1), _utc(2027, 1, 1)),
        # the leap day: February 29th is a day of its own, and the last of February
        ("day", _utc(2024, 2, 29, 23, 59, 59), _utc(2024, 3, 1),
         _utc(2024, 2, 29), _utc(2024, 3, 1)),
        ("month", _utc(2024, 2, 29, 23, 59, 59), _utc(2024, 3, 1),
         _utc(2024, 2, 1), _utc(2024, 3, 1)),
    ],
)  # fmt: skip
async def test_the_period_ends_at_its_boundary_for_limits_decisions_and_alerts(
    open_facade: OpenFacade, period: str, last: datetime, first: datetime,
    start: datetime, end: datetime,
) -> None:  # fmt: skip
    clock = Clock(last)
    f = open_facade(clock=clock)
    iid = await _make(f, period)
    await _spend(f, iid, 100)  # the whole budget, in the period's last second
    status = await f.get_limits_status(T, iid)
    assert status is not None
    assert (status.period_start, status.period_end) == (start, end)
    assert (status.budget_used_cents, status.budget_percent, status.budget_period) == (
        100, 100.0, period)
    decision = await f.check_limits(T, iid)
    assert decision is not None and decision.decision == Decision.BLOCKED
    alerts = await f.get_alerts(T)
    assert sorted(a.threshold for a in alerts) == [80, 100]
    assert {(a.period_start, a.period_end) for a in alerts} == {(start, end)}

    clock.now = first  # the next period: nothing used, allowed, and the alerts can fire again
    status = await f.get_limits_status(T, iid)
    assert status is not None
    assert status.period_start == end and status.budget_used_cents == 0
    assert status.budget_percent == 0.0 and status.requests_month == 0
    decision = await f.check_limits(T, iid)
    assert decision is not None and decision.decision == Decision.ALLOWED
    await _spend(f, iid, 85)
    decision = await f.check_limits(T, iid)
    assert decision is not None and decision.decision == Decision.WARNED
    alerts = await f.get_alerts(T)
    assert [(a.threshold, a.period_start) for a in alerts[:1]] == [(80, end)]
    assert len(alerts) == 3


async def test_a_week_spans_two_months_and_a_month_does_not(open_facade: OpenFacade) -> None:
    # Monday 2026-11-30 .. Sunday 2026-12-06: the week sums its days over the month boundary,
    # while a monthly integration starts again on December 1st.
    clock = Clock(_utc(2026, 11, 30, 9))
    f = open_facade(clock=clock)
    week, month = await _make(f, "week"), await _make(f, "month")
    for iid in (week, month):
        await _spend(f, iid, 30)
    clock.now = _utc(2026, 12, 1, 9)
    for iid in (week, month):
        await _spend(f, iid, 20)
    clock.now = _utc(2026, 12, 6, 23, 59, 59)
    w, m = await f.get_limits_status(T, week), await f.get_limits_status(T, month)
    assert w is not None and m is not None
    assert (w.budget_used_cents, w.requests_month) == (50, 2)
    assert (m.budget_used_cents, m.requests_month) == (20, 1)
    assert (w.period_start, w.period_end) == (_utc(2026, 11, 30), _utc(2026, 12, 7))
    # backdated into last week: counts there, not in this week
    await _spend(f, week, 7, at=_utc(2026, 11, 29, 23, 59, 59))
    w = await f.get_limits_status(T, week)
    assert w is not None and w.budget_used_cents == 50


async def test_the_token_limit_follows_the_period(open_facade: OpenFacade) -> None:
    clock = Clock(_utc(2026, 12, 2, 23, 59, 59))
    f = open_facade(clock=clock)
    d = await f.create_integration(T, name="tok", provider_type="ollama", token_limit_month=1000,
                                   budget_period="day")  # fmt: skip
    await _spend(f, d.id, 0, tokens=1000)
    decision = await f.check_limits(T, d.id)
    assert decision is not None and decision.decision == Decision.BLOCKED
    assert any(r.startswith("token_limit_month reached") for r in decision.reasons)
    [a80, a100] = sorted(await f.get_alerts(T), key=lambda a: a.threshold)  # one batch: same time
    assert (a100.kind, a100.threshold, a80.threshold) == ("tokens", 100, 80)
    assert "daily token limit for 2026-12-02" in a100.message
    clock.advance(seconds=1)
    decision = await f.check_limits(T, d.id, estimated_tokens=799)
    assert decision is not None and decision.decision == Decision.ALLOWED
    status = await f.get_limits_status(T, d.id)
    assert status is not None and status.tokens_used_month == 0


async def test_custom_thresholds_fire_once_each_per_period(open_facade: OpenFacade) -> None:
    clock = Clock(_utc(2026, 12, 7, 8))  # a Monday
    f = open_facade(clock=clock)
    iid = await _make(f, "week", alert_thresholds=[100, 50, 90, 50])
    detail = await f.get_integration(T, iid)
    assert detail is not None and detail.alert_thresholds == [50, 90, 100]  # sorted, unique
    await _spend(f, iid, 49)
    assert await f.get_alerts(T) == []
    await _spend(f, iid, 1)  # exactly 50%
    assert [a.threshold for a in await f.get_alerts(T)] == [50]
    clock.advance(days=2)
    await _spend(f, iid, 45)  # 95%: 90 only
    await _spend(f, iid, 1)
    alerts = await f.get_alerts(T)
    assert [a.threshold for a in alerts] == [90, 50]
    assert all(a.period == "2026-W50" for a in alerts)
    assert "budget for 2026-W50" in alerts[0].message
    # 80 is not among this integration's thresholds, yet check_limits still warns at 80%
    decision = await f.check_limits(T, iid)
    assert decision is not None and decision.decision == Decision.WARNED
    # no thresholds: no alert at all
    await f.update_integration(T, iid, alert_thresholds=[])
    await _spend(f, iid, 10)
    assert len(await f.get_alerts(T)) == 2


async def test_changing_the_period_changes_the_bounds_at_once(open_facade: OpenFacade) -> None:
    clock = Clock(_utc(2026, 12, 2, 12))
    f = open_facade(clock=clock)
    iid = await _make(f, "month")
    await _spend(f, iid, 40, at=_utc(2026, 12, 1, 12))
    await _spend(f, iid, 10)
    updated = await f.update_integration(T, iid, budget_period="day")
    assert updated is not None and updated.budget_period == "day"
    status = await f.get_limits_status(T, iid)
    assert status is not None and (status.budget_used_cents, status.period_start) == (
        10, _utc(2026, 12, 2))
    await f.update_integration(T, iid, budget_period="week")
    status = await f.get_limits_status(T, iid)
    assert status is not None and (status.budget_used_cents, status.period_start) == (
        50, _utc(2026, 11, 30))


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"budget_period": "fortnight"}, "budget_period", "day, week, month"),
        ({"budget_period": "Month"}, "budget_period", "day, week, month"),
        ({"budget_period": None}, "budget_period", "day, week, month"),
        ({"alert_thresholds": [0, 100]}, "alert_thresholds", "from 1 to 1000"),
        ({"alert_thresholds": [1001]}, "alert_thresholds", "from 1 to 1000"),
        ({"alert_thresholds": [80.5]}, "alert_thresholds", "whole percent"),
        ({"alert_thresholds": [True]}, "alert_thresholds", "whole percent"),
        ({"alert_thresholds": "80,abc"}, "alert_thresholds", "separated by commas"),
        ({"alert_thresholds": list(range(1, 12))}, "alert_thresholds", "at most 10"),
        ({"alert_thresholds": 80}, "alert_thresholds", "a list"),
    ],
)
async def test_bad_settings_are_refused_and_change_nothing(
    open_facade: OpenFacade, fields: dict[str, object], field: str, words: str
) -> None:
    f = open_facade()
    iid = await _make(f, "week", alert_thresholds=[50, 100])
    with pytest.raises(ValidationError) as err:
        await f.update_integration(T, iid, **fields)
    assert words in err.value.errors[field]
    detail = await f.get_integration(T, iid)
    assert detail is not None
    assert (detail.budget_period, detail.alert_thresholds) == ("week", [50, 100])
    with pytest.raises(ValidationError) as err:
        await f.create_integration(T, name="other", provider_type="ollama",
                                   **fields)  # type: ignore[arg-type]  # fmt: skip
    assert field in err.value.errors
    assert (await f.list_integrations(T)).total == 1


async def test_defaults_and_documents_that_predate_the_settings(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    d = await f.create_integration(T, name="old", provider_type="ollama", budget_limit_cents=100)
    assert (d.budget_period, d.alert_thresholds) == ("month", [80, 100])
    await f.aclose()
    # a document written before the settings existed: read with the defaults
    data = json.loads(db_path.read_text())
    doc = data["integrations"][d.id]
    del doc["budget_period"], doc["alert_thresholds"]
    db_path.write_text(json.dumps(data))
    f = IntegrationsFacade(db_path)
    got = await f.get_integration(T, d.id)
    assert got is not None and (got.budget_period, got.alert_thresholds) == ("month", [80, 100])
    await _spend(f, d.id, 80)
    assert [a.threshold for a in await f.get_alerts(T)] == [80]
    status = await f.get_limits_status(T, d.id)
    assert status is not None and status.budget_period == "month"
    await f.aclose()


FRESH_READER = r"""
import asyncio, json, sys
from datetime import datetime
from core import IntegrationsFacade

async def main(db, iid, now):
    f = IntegrationsFacade(db, clock=lambda: datetime.fromisoformat(now))
    s = await f.get_limits_status("acme", iid)
    d = await f.check_limits("acme", iid)
    print(json.dumps([s.budget_used_cents, s.requests_month, s.period_start.isoformat(),
                      d.decision.value]))
    await f.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_fresh_process_reads_a_week_from_the_daily_rollups(
    open_facade: OpenFacade, db_path: Path
) -> None:
    # A week of traffic recorded day by day with a one-day log retention: by Sunday the log
    # holds only the last days, so the week's total must come from the daily rollups (a fresh
    # process reads rollups + the short tail after the watermark).
    clock = Clock(_utc(2026, 11, 30, 10))
    f = open_facade(clock=clock, usage_retention_days=1, usage_checkpoint_seconds=0.0)
    iid = await _make(f, "week")
    for day in range(7):
        await _spend(f, iid, 10)
        clock.advance(days=1) if day < 6 else None
    await _spend(f, iid, 5)  # Sunday again, after the last checkpoint: in the tail
    await f.aclose()
    segments = sorted(p.name for p in (db_path.parent / "byok.usage.d").glob("*.jsonl"))
    assert "2026-11-30.jsonl" not in segments  # Monday's events are in the rollups only
    rollups = json.loads((db_path.parent / "byok.usage.json").read_text())
    [days] = [d["days"] for d in rollups["days"].values()]
    assert min(days) >= "2026-11-30"
    out = subprocess.run(
        [sys.executable, "-c", FRESH_READER, str(db_path), iid,
         (clock.now + timedelta(minutes=1)).isoformat()],
        capture_output=True, text=True, env=os.environ, check=True,
    )  # fmt: skip
    used, requests, start, decision = json.loads(out.stdout)
    assert (used, requests, start, decision) == (75, 8, "2026-11-30T00:00:00+00:00", "allowed")
    # and on Monday the week is new
    out = subprocess.run(
        [sys.executable, "-c", FRESH_READER, str(db_path), iid, "2026-12-07T00:00:00+00:00"],
        capture_output=True, text=True, env=os.environ, check=True,
    )
    assert json.loads(out.stdout)[:3] == [0, 0, "2026-12-07T00:00:00+00:00"]


async def test_daily_rollups_keep_only_the_last_days(
    open_facade: OpenFacade, db_path: Path
) -> None:
    clock = Clock(_utc(2026, 12, 1, 10))
    f = open_facade(clock=clock, usage_checkpoint_seconds=0.0)
    iid = await _make(f, "day")
    for _ in range(20):
        await _spend(f, iid, 1)
        clock.advance(days=1)
    await f.aclose()
    rollups = json.loads((db_path.parent / "byok.usage.json").read_text())
    [days] = [d["days"] for d in rollups["days"].values()]
    # the checkpoint of the last record (2026-12-20) keeps that day and the 7 before it
    assert sorted(days) == [f"2026-12-{n:02d}" for n in range(13, 21)]
    assert [r["period"] for r in rollups["rollups"].values()] == ["2026-12"]


async def test_a_rollups_file_without_daily_rollups_is_filled_from_the_log(
    open_facade: OpenFacade, db_path: Path
) -> None:
    # An older byok folded the log into monthly rollups only: the days it folded come back from
    # the retained log, and the next checkpoint writes them.
    clock = Clock(_utc(2026, 12, 2, 10))
    f = open_facade(clock=clock)
    iid = await _make(f, "week")
    await _spend(f, iid, 30, at=_utc(2026, 11, 30, 10))
    await _spend(f, iid, 20)
    await f.aclose()
    path = db_path.parent / "byok.usage.json"
    data = json.loads(path.read_text())
    del data["days"]
    path.write_text(json.dumps(data))
    g = open_facade(clock=clock)
    status = await g.get_limits_status(T, iid)
    assert status is not None and status.budget_used_cents == 50
    assert status.requests_this_minute == 1  # the last minute is not counted twice
    await _spend(g, iid, 5)
    await g.aclose()
    data = json.loads(path.read_text())
    [days] = [d["days"] for d in data["days"].values()]
    assert {k: int(r[2]) // 10**9 for k, r in days.items()} == {"2026-11-30": 30,
                                                                "2026-12-02": 25}  # fmt: skip
    h = open_facade(clock=clock)
    status = await h.get_limits_status(T, iid)
    assert status is not None and status.budget_used_cents == 55
    assert status.requests_this_minute == 2


async def test_two_processes_raise_a_weekly_alert_once(open_facade: OpenFacade) -> None:
    clock = Clock(_utc(2026, 12, 9, 10))
    a, b = open_facade(clock=clock), open_facade(clock=clock)
    iid = await _make(a, "week", alert_thresholds=[60])
    await _spend(a, iid, 59, at=_utc(2026, 12, 7, 1))
    await _spend(b, iid, 1)
    await _spend(a, iid, 1)
    assert [x.threshold for x in await a.get_alerts(T)] == [60]
    assert [x.threshold for x in await b.get_alerts(T)] == [60]


async def test_the_watcher_announces_an_alert_until_its_period_ends(
    open_facade: OpenFacade,
) -> None:
    from core.timeutil import to_us
    from core.watch.rules import usage_events

    clock = Clock(_utc(2026, 12, 6, 23, 0))  # Sunday
    f = open_facade(clock=clock)
    day, week = await _make(f, "day"), await _make(f, "week")
    for iid in (day, week):
        await _spend(f, iid, 80)
    alerts = await f.get_alerts(T)
    assert {a.integration_id for a in alerts} == {day, week}
    at = to_us(_utc(2026, 12, 6, 23, 59, 59))
    assert {e.integration_id for e in usage_events(T, alerts, at)} == {day, week}
    # Monday 00:00: both periods are over (the week ended too), so both alerts are history
    assert usage_events(T, alerts, to_us(_utc(2026, 12, 7))) == []
    # a month alert of the same Sunday is still current on Monday
    month = await _make(f, "month")
    await _spend(f, month, 80)
    events = usage_events(T, await f.get_alerts(T), to_us(_utc(2026, 12, 7)))
    assert [e.integration_id for e in events] == [month]


def test_the_rollups_file_check_knows_the_daily_rollups() -> None:
    from core.usage.store import check_rollups

    good = {"tenant_id": "t", "integration_id": "i", "days": {"2024-02-29": [1, 2, "3", 4, 0]}}
    assert check_rollups({"days": {"t/i": good}}) is None
    for days in ({"2024-13-01": [1, 2, "3", 4, 0]}, {"2024-02-29": [1, 2, "x", 4, 0]},
                 {"2024-02-29": [1, 2, 3]}, {"2024-02-29": [-1, 2, "3", 4, 0]}, []):  # fmt: skip
        message = check_rollups({"days": {"t/i": {**good, "days": days}}})
        assert message is not None and "daily rollup" in message
    alert = {"id": "a", "key": "k", "tenant_id": "t", "integration_id": "i", "kind": "budget",
             "threshold": 50, "limit": 1, "used": 1, "percent": 100.0, "created_at_us": 1}
    for period, ok in (("2026-12", True), ("2026-W53", True), ("2025-W53", False),
                       ("2024-02-29", True), ("2026-02-29", False), ("2026-12-1", False)):
        assert (check_rollups({"alerts": {"a": {**alert, "period": period}}}) is None) is ok
