"""Anthropic's Usage and Cost Analytics API, and the legacy reports where it cannot answer, over
real HTTP against the fake admin routes (tui.demo.fakeadmin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.clock import T0, Clock

from core.facade import IntegrationsFacade
from core.spend.anthropic import COST, USAGE, floor
from core.spend.service import SpendService
from tui.demo.fakeadmin import Use
from tui.demo.fakeprovider import FakeProviderServer

ADMIN = "sk-ant-admin01-" + "z" * 40
KEYS = "/v1/organizations/api_keys"
LEGACY = ["/v1/organizations/cost_report", "/v1/organizations/usage_report/messages"]


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        s.admin.anthropic_keys = [("apikey_A", "sk-ant-api03-aaa...3333")]
        s.admin.now = lambda: T0
        for hours in range(0, 60, 3):  # the last 60 hours before T0, every third hour
            at = T0 - timedelta(hours=hours + 1)
            s.admin.usage["anthropic"].append(
                Use(at, "apikey_A", "claude-sonnet-4-5-20250929", 200, 20, cached=50)
            )
        day = T0.strftime("%Y-%m-%d")
        s.admin.key_costs["anthropic"] = {(day, "apikey_A"): 123.456789, (day, None): 10.0}
        s.admin.costs["anthropic"][day] = 999.0  # no key's: the workbench, say
        yield s


@pytest.fixture
async def setup(db_path: Path, server: FakeProviderServer) -> AsyncIterator[Any]:
    clock = Clock(T0)
    facade = IntegrationsFacade(db_path, clock=clock)
    made = await facade.create_integration(
        "default",
        name="c",
        provider_type="anthropic",
        credential="sk-ant-api03-" + "q" * 40 + "3333",
    )
    ctx = facade.context
    log = facade.dashboard.usage.log_dir
    spend = SpendService(ctx.repo, ctx.vault, clock, usage_log_dir=log, sleep=lambda s: None)
    yield facade, spend, {"c": made.id}, clock
    spend.close()
    await facade.aclose()


def _sync(spend: Any, server: FakeProviderServer, days: int = 3) -> dict[str, Any]:
    spend.add_account("default", "ant", "anthropic", ADMIN, server.base_url_for("anthropic"))
    [report] = spend.sync("default", days=days)
    assert report["ok"], report
    return report


def _usage_rows(spend: Any) -> list[dict[str, Any]]:
    return [r for d in spend.store.days("default", "usage") for r in d["rows"]]


def _cost_rows(spend: Any) -> list[dict[str, Any]]:
    return [r for d in spend.store.days("default", "cost") for r in d["rows"]]


async def test_analytics_gives_tokens_requests_and_the_cost_per_key(setup, server) -> None:
    _, spend, _, _ = setup
    report = _sync(spend, server)
    assert set(report["read"]) == {KEYS, COST, USAGE}
    rows = _usage_rows(spend)
    assert sum(r["in"] + r["out"] for r in rows) == 20 * 220
    assert sum(r["req"] for r in rows) == 20  # the legacy report has no request counts
    assert {r["key"] for r in rows} == {"apikey_A"}
    costs = {(r["key"], r["cents"]) for r in _cost_rows(spend)}
    assert costs == {("apikey_A", 123.456789), (None, 10.0 + 999.0)}
    spent = spend.report("default", "c")["days"]
    assert sum(r["reported_tokens"] for r in spent) == 20 * 220
    # the day the provider billed the key: its own figure, not the tokens priced by byok
    [today] = [r for r in spent if r["period_start"].startswith(T0.strftime("%Y-%m-%d"))]
    assert (today["reported_cents"], today["reported_from"]) == (123.4568, "provider")
    assert {r["reported_from"] for r in spent if r is not today} == {"prices"}


async def test_an_organisation_without_analytics_is_read_from_the_legacy_reports(
    setup, server
) -> None:
    _, spend, _, _ = setup
    server.admin.analytics = False
    report = _sync(spend, server)
    assert set(report["read"]) == {KEYS, *LEGACY}
    assert sum(r["in"] + r["out"] for r in _usage_rows(spend)) == 20 * 220
    assert [r.get("key") for r in _cost_rows(spend) if r["cents"]] == [None]
    # the legacy report's organisation-wide total: what no key made and what each key made
    assert round(sum(r["cents"] for r in _cost_rows(spend)), 2) == round(999 + 123.456789 + 10, 2)
    assert {r["reported_from"] for r in spend.report("default")["days"]} == {"prices"}


async def test_a_403_on_analytics_falls_back_once_per_sync(setup, server) -> None:
    _, spend, _, _ = setup
    server.admin.fail("anthropic", "analytics_usage", "403", times=99)
    report = _sync(spend, server, days=10)  # two windows
    assert set(report["read"]) == {KEYS, COST, LEGACY[1]}
    asked = [r for r in server.requests if r.path.endswith(USAGE)]
    assert len(asked) == 1  # refused once, not asked again for the second window


@pytest.mark.parametrize("outcome", ["500", "400"])
async def test_other_analytics_errors_fail_the_window_not_fall_back(setup, server, outcome) -> None:
    _, spend, _, _ = setup
    server.admin.fail("anthropic", "analytics_usage", outcome, times=9)
    spend.add_account("default", "ant", "anthropic", ADMIN, server.base_url_for("anthropic"))
    [report] = spend.sync("default", days=3)
    assert not report["ok"] and f"HTTP {outcome}" in report["error"]
    assert LEGACY[1] not in report["read"]
    assert spend.store.days("default", "usage") == []


async def test_a_window_before_the_analytics_floor_is_read_from_the_legacy_reports(
    setup, server
) -> None:
    _, spend, _, clock = setup
    clock.now = datetime(2026, 1, 5, 12, tzinfo=UTC)
    server.admin.now = clock
    report = _sync(spend, server, days=10)  # 2025-12-26 .. 2026-01-02, then 2026-01-02 .. now
    assert set(report["read"]) == {KEYS, COST, USAGE, *LEGACY}


def test_the_floor_is_the_later_of_2026_and_the_last_365_days() -> None:
    assert floor(datetime(2026, 6, 1, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert floor(datetime(2027, 6, 1, 13, tzinfo=UTC)) == datetime(2026, 6, 2, tzinfo=UTC)


def test_the_fake_enforces_the_documented_rules(server) -> None:
    base = server.base_url_for("anthropic")
    good = {"starting_at": "2026-11-10T00:00:00Z", "ending_at": "2026-11-14T00:00:00Z",
            "time_bucket_width": "1d"}  # fmt: skip
    headers = {"x-api-key": ADMIN, "anthropic-version": "2023-06-01",
               "anthropic-beta": "analytics-usage-cost-2026-08-24"}  # fmt: skip
    assert httpx.get(base + USAGE, params=good, headers=headers).status_code == 200
    no_beta = {k: v for k, v in headers.items() if k != "anthropic-beta"}
    assert httpx.get(base + USAGE, params=good, headers=no_beta).status_code == 400
    for bad in (
        {"starting_at": "2025-12-31T00:00:00Z"},
        {"ending_at": None},
        {"starting_at": "2026-09-01T00:00:00Z", "ending_at": "2026-10-15T00:00:00Z"},
    ):
        query = {k: v for k, v in {**good, **bad}.items() if v is not None}
        answer = httpx.get(base + USAGE, params=query, headers=headers)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["type"] == "invalid_request_error"
