"""The spend screen, the background sync and the detail's spend section, driven with Pilot at
80x24 against the fake provider's admin routes over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.console import notifications, wait_for
from support.consoleapp import loaded, make_app
from support.spendtenant import SECRETS, TENANT, build_spend_tenant
from textual.widgets import DataTable, Static

from core import IntegrationsFacade
from tui.app import ByokApp
from tui.commands import binding_commands
from tui.demo.fakeprovider import FakeProviderServer
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.spend import SpendScreen, signed

SIZE = (80, 24)


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        yield s


def _app(facade: IntegrationsFacade, sync_interval_s: float | None = None) -> ByokApp:
    return make_app(facade, refresh_interval_s=None, sync_interval_s=sync_interval_s)


def _rows(screen: SpendScreen, table_id: str) -> list[list[str]]:
    table = screen.query_one(table_id, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def _synced(facade: IntegrationsFacade) -> set[str]:
    """The names of the accounts whose last sync is recorded."""
    spend = facade.spend()
    syncs = spend.store.table("syncs")
    return {a.name for a in spend.accounts.list(TENANT) if a.id in syncs}


async def _open_spend(pilot) -> SpendScreen:
    await wait_for(pilot, lambda: loaded(pilot.app))
    await pilot.press("dollar_sign")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SpendScreen))
    screen = pilot.app.screen
    await wait_for(pilot, lambda: bool(screen.accounts))
    return screen


def _no_secret(app: ByokApp) -> None:
    shot = app.export_screenshot()
    assert not [s for s in SECRETS if s in shot]


async def test_background_sync_runs_in_a_worker_and_schedules_the_next_after(
    tfacade, server
) -> None:
    ids = await build_spend_tenant(tfacade, server)
    app = _app(tfacade, sync_interval_s=900)
    async with app.run_test(size=SIZE) as pilot:
        # nothing synced yet: the console syncs every account once it has its facade
        await wait_for(pilot, lambda: _synced(tfacade) == {"org", "router-mgmt", "ds"})
        await wait_for(pilot, lambda: not app.syncing and app._sync_timer is not None)
        assert app.sync_state == "synced 12:00 UTC, next in 15 min"
        assert any(s.route == "admin" and s.path.endswith("/usage/completions")
                   for s in server.requests)  # fmt: skip
        # the failed account is said, literally, and the console goes on
        assert "Sync failed: ds: GET /user/balance: HTTP 500" in notifications(app)
        screen = await _open_spend(pilot)
        accounts = _rows(screen, "#spend-accounts")
        assert [r[0] for r in accounts] == ["ds", "org", "router-mgmt"]
        ds, org, router = accounts
        assert ds[5] == "✖ failed 0s ago" and org[5] == "✔ 0s ago" == router[5]
        assert org[2] == "sk-…zzzz" and router[3] == "$37.50"  # 50 credits less 12.50 used
        assert router[4] == "75 days"  # $37.50 at $3.50 a week
        note = str(screen.query_one("#spend-account-note", Static).render())
        assert "last sync failed: GET /user/balance: HTTP 500" in note
        days = _rows(screen, "#spend-days")
        names = {r[0] for r in days}
        assert {"prod-openai", "batch-openai", "router"} <= names
        overview = tfacade.spend().overview(TENANT)
        today = overview["integrations"][ids["prod-openai"]]["today"]
        [row] = [r for r in days if r[0] == "prod-openai" and r[1] == "2026-11-14"]
        assert row[2] == "$0.40" and row[4] == signed(today["drift_cents"])
        assert today["drift_cents"] is not None and today["drift_cents"] > 0
        _no_secret(app)
        # a manual sync while none runs: said when done; a second while one runs: refused
        before = len(server.requests)
        await pilot.press("s")
        await wait_for(pilot, lambda: "Sync: A sync is running already." in notifications(app)
                       or not app.syncing)  # fmt: skip
        await wait_for(pilot, lambda: not app.syncing and len(server.requests) > before)


async def test_a_failed_sync_is_a_notification_not_a_crash(tfacade, server) -> None:
    await build_spend_tenant(tfacade, server)
    server.admin.fail("openai", "usage", "503", page=0, times=1000)
    app = _app(tfacade)  # no background sync: s syncs now
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_spend(pilot)
        assert all(r[5] == "never" for r in _rows(screen, "#spend-accounts"))
        await pilot.press("s")
        await wait_for(pilot, lambda: _synced(tfacade) == {"org", "router-mgmt", "ds"})
        await wait_for(pilot, lambda: not app.syncing)
        await wait_for(pilot, lambda: _rows(screen, "#spend-accounts")[1][5] != "never")
        shown = notifications(app)
        assert "Sync failed: org: GET /organization/usage/completions: HTTP 503" in shown
        assert "Sync failed: ds: GET /user/balance: HTTP 500" in shown
        _, org, router = _rows(screen, "#spend-accounts")
        assert org[5].startswith("✖ failed") and router[5].startswith("✔")
        assert app.is_running and isinstance(app.screen, SpendScreen)
        assert app._sync_timer is None  # background sync off: nothing scheduled


async def test_removing_an_account_asks_first(tfacade, server) -> None:
    await build_spend_tenant(tfacade, server)
    app = _app(tfacade)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_spend(pilot)
        await pilot.press("j")  # from ds to org
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert question == "Remove the account org?"
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SpendScreen))
        assert len(tfacade.spend().accounts.list(TENANT)) == 3
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(tfacade.spend().accounts.list(TENANT)) == 2)
        await wait_for(pilot, lambda: [r[0] for r in _rows(screen, "#spend-accounts")]
                       == ["ds", "router-mgmt"])  # fmt: skip
        assert "Removed the account org and what was synced from it." in " ".join(
            notifications(app)
        )


async def test_detail_shows_the_key_link_reported_spend_drift_and_balance(
    tfacade, server
) -> None:
    ids = await build_spend_tenant(tfacade, server)
    tfacade.spend().sync(TENANT)
    overview = tfacade.spend().overview(TENANT)
    app = _app(tfacade)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_spend(pilot)
        await wait_for(pilot, lambda: screen.query_one("#spend-days", DataTable).row_count > 0)
        await pilot.press("tab")
        table = screen.query_one("#spend-days", DataTable)
        target = next(i for i, r in enumerate(_rows(screen, "#spend-days"))
                      if r[0] == "prod-openai")  # fmt: skip
        table.move_cursor(row=target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        box = detail.query_one("#detail-spend-box")
        await wait_for(pilot, lambda: box.display)
        text = str(detail.query_one("#detail-spend", Static).render())
        info = overview["integrations"][ids["prod-openai"]]
        assert "linked to key_A of org (auto: by its redacted key)" in text
        assert f"drift {signed(info['today']['drift_cents'])}" in text
        assert "recorded $0.40" in text
        _no_secret(app)
        # an OpenRouter integration: its account's balance and runway
        await pilot.press("escape")
        app.open_detail(ids["router"])
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, DetailScreen)
            and any(b.display for b in app.screen.query("#detail-spend-box")),
        )
        text = str(app.screen.query_one("#detail-spend", Static).render())
        assert "balance    $37.50 · runway 75 days (router-mgmt)" in text


async def test_command_mode_opens_the_spend_screen_and_syncs(tfacade, server) -> None:
    await build_spend_tenant(tfacade, server)
    app = _app(tfacade)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        palette = {c.title: c.help for c in binding_commands(app.screen)}
        assert palette["Spend"] == "Provider-reported spend, drift, balances, accounts ($)"
        await pilot.press("colon", *"sync", "enter")
        await wait_for(pilot, lambda: _synced(tfacade) == {"org", "router-mgmt", "ds"})
        await pilot.press("colon", *"spend", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SpendScreen))


async def test_no_account_says_how_to_add_one(tfacade) -> None:
    app = _app(tfacade)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        await pilot.press("dollar_sign")
        await wait_for(pilot, lambda: isinstance(app.screen, SpendScreen))
        screen = app.screen
        note = screen.query_one("#spend-account-note", Static)
        await wait_for(pilot, lambda: "No provider account yet" in str(note.render()))
        assert "byok account add NAME --provider" in str(note.render())
