"""Pilot tests of the console as a monitor at 80x24: columns that fit, wide mode, its own clock,
the header, the form's keys and questions, the health log's full message, a too small terminal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.text import Text
from support.clock import fixed_clock
from support.console import open_screen, wait_for
from test_console_flows import add, loaded_app
from textual.widgets import Input, Select, Static

from core import ProviderType
from tui import app as app_module
from tui.app import ByokApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.toosmall import TooSmallScreen

LONG = "payments-reconciliation-batch-worker-eu-west-1-production-blue-green-a"
LIMITS = ("budget", "tokens", "rpm")


async def _with_limits(facade, server, name: str = LONG) -> None:
    await add(
        facade,
        server,
        name,
        default_model="claude-sonnet-4-5-20250929",
        budget_limit_cents=1000,
        token_limit_month=100_000,
        rate_limit_rpm=60,
    )


async def test_80_columns_show_health_name_and_the_limits(tfacade, fake_server):
    await _with_limits(tfacade, fake_server)
    async with loaded_app(tfacade, size=(80, 24)) as (app, _pilot):
        table = app.home().table
        shown = table.shown_columns
        assert {"health", "name", *LIMITS} <= set(shown)
        assert "checked" not in shown and "latency" not in shown
        assert table.virtual_size.width <= table.size.width  # nothing scrolls sideways
        row = table.render_line(1).text  # the first row, under the header
        assert "payments-reconcil" in row and "…" in row and LONG not in row
        assert row.rstrip().endswith("0/60")  # the rpm cell, last, on screen
        panel = str(app.screen.query_one("#panel", Static).render())
        assert LONG in panel  # in full in the panel


async def test_wider_terminals_add_columns_and_w_shows_them_all(tfacade, fake_server):
    await _with_limits(tfacade, fake_server, "short")
    async with loaded_app(tfacade, size=(200, 50)) as (app, pilot):
        assert len(app.home().table.shown_columns) == 10
    async with loaded_app(tfacade, size=(80, 24)) as (app, pilot):
        table = app.home().table
        narrow = table.shown_columns
        await pilot.press("w")
        await wait_for(pilot, lambda: table.wide)
        assert len(table.shown_columns) == 10 > len(narrow)
        assert "wide (w)" in str(app.screen.query_one("#status-line", Static).render())
        await pilot.press("w")
        await wait_for(pilot, lambda: not table.wide)
        assert table.shown_columns == narrow


async def test_the_clock_repaints_ages_with_nothing_written(tfacade, fake_server, monkeypatch):
    """No write to the database, time passes: "checked" ages move on their own."""
    monkeypatch.setattr(app_module, "CLOCK_S", 0.2)
    now = [fixed_clock()]
    await _with_limits(tfacade, fake_server, "aged")
    iid = (await tfacade.list_integrations("default")).items[0].id
    await tfacade.test_credentials("default", iid)
    app = ByokApp(
        tfacade, clock=lambda: now[0], probe_interval_s=None, refresh_interval_s=0.1,
        cursor_blink=False,
    )  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.screen.query_one("#panel", Static)
        await wait_for(pilot, lambda: "0s ago" in str(panel.render()))
        now[0] += timedelta(minutes=3)
        await wait_for(pilot, lambda: "3m ago" in str(panel.render()), timeout=5)


async def test_header_keeps_counts_and_probes_at_80_columns(tfacade, fake_server):
    await _with_limits(tfacade, fake_server, "one")
    async with loaded_app(tfacade, size=(80, 24), probe_interval_s=300) as (app, _pilot):
        header = str(app.screen.query_one("#header-bar", Static).render())
        lines = header.splitlines()
        assert len(lines) == 2 and all(len(line) <= 78 for line in lines)
        assert "probes every 5 min" in lines[1] and "? 1" in lines[1]


async def test_form_has_its_keys_and_asks_before_discarding(tfacade, fake_server):
    async with loaded_app(tfacade, size=(80, 24)) as (app, pilot):
        form = await open_screen(pilot, "n", FormScreen)
        keybar = form.query_one("KeyBar")
        assert "Save" in str(keybar.render()) and "Cancel" in str(keybar.render())
        await pilot.press("escape")  # nothing typed: closes
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        form = await open_screen(pilot, "n", FormScreen)
        form.query_one("#name", Input).value = "typed"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # keep typing
        await wait_for(pilot, lambda: app.screen is form)
        assert form.query_one("#name", Input).value == "typed"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")  # discard
        await wait_for(pilot, lambda: not isinstance(app.screen, (FormScreen, ConfirmScreen)))


async def test_azure_form_asks_for_its_resource_url_and_a_deployment(tfacade):
    async with loaded_app(tfacade, size=(80, 24)) as (_app, pilot):
        form = await open_screen(pilot, "n", FormScreen)
        form.query_one("#provider", Select).value = ProviderType.AZURE_OPENAI.value
        await pilot.pause()
        assert "https://{resource}.openai.azure.com" in form.query_one("#base_url").placeholder
        assert "deployment" in form.query_one("#model", Input).placeholder


async def test_health_log_shows_the_highlighted_message_in_full(tfacade, fake_server):
    await add(tfacade, fake_server, "probed")
    iid = (await tfacade.list_integrations("default")).items[0].id
    await tfacade.test_credentials("default", iid)
    async with loaded_app(tfacade, size=(80, 24)) as (_app, pilot):
        log = await open_screen(pilot, "H", HealthLogScreen)
        await wait_for(pilot, lambda: bool(log.shown))
        message = log.shown[0][1].message or ""
        text = str(log.query_one("#log-message", Static).render())
        assert message and message in text.replace("\n", " ")


@pytest.mark.parametrize("name", ["[b]bold[/b] svc", "a[red]x"])
async def test_names_are_shown_literally(tfacade, fake_server, name):
    await add(tfacade, fake_server, name)
    iid = (await tfacade.list_integrations("default")).items[0].id
    await tfacade.test_credentials("default", iid)
    async with loaded_app(tfacade, size=(120, 40)) as (app, pilot):
        assert name in str(app.screen.query_one("#panel", Static).render())
        log = await open_screen(pilot, "H", HealthLogScreen)
        await wait_for(pilot, lambda: bool(log.shown))
        cell = log.query_one("#log-table").get_row_at(0)[1]
        assert isinstance(cell, Text) and cell.plain == name
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.home())
        confirm = await open_screen(pilot, "d", ConfirmScreen)
        assert name in str(confirm.query_one("#confirm-question", Static).render())


async def test_a_too_small_terminal_says_so_until_it_grows(tfacade, fake_server):
    await add(tfacade, fake_server, "x")
    async with loaded_app(tfacade, size=(40, 12)) as (app, pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen))
        assert "40x12" in str(app.screen.query_one("#too-small", Static).render())
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: app.screen is app.home())


async def test_help_has_its_key_bar(tfacade, fake_server):
    from tui.screens.help import HelpScreen

    async with loaded_app(tfacade, size=(80, 24)) as (_app, pilot):
        help_screen = await open_screen(pilot, "question_mark", HelpScreen)
        keybar = str(help_screen.query_one("KeyBar").render())
        assert "Close" in keybar
