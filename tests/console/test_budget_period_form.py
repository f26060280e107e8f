"""The console's budget period and alert thresholds: the form's Select and field (Pilot), and the
period the detail and limits screens name. The clock is fixed at Saturday 2026-11-14 12:00 UTC."""

from __future__ import annotations

from support.console import open_screen, table_names, wait_for
from support.consoleapp import SECRET, add, loaded_app
from textual.widgets import Input, Label, Select, Static

from core import IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.limits import LimitsScreen

T = "default"


async def test_create_with_a_weekly_budget_and_own_thresholds(
    tfacade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    async with loaded_app(tfacade, size=(100, 40)) as (app, pilot):
        form = await open_screen(pilot, "n", FormScreen)
        form.query_one("#name", Input).value = "weekly"
        form.query_one("#credential", Input).value = SECRET
        form.query_one("#base_url", Input).value = fake_server.base_url_for("openai")
        form.query_one("#budget", Input).value = "5"
        assert form.query_one("#period", Select).value == "month"  # the default
        assert form.query_one("#thresholds", Input).value == "80, 100"
        form.query_one("#period", Select).value = "week"
        form.query_one("#thresholds", Input).value = "90, 50"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        await wait_for(pilot, lambda: table_names(app) == ["weekly"])
    detail = await tfacade.resolve_integration(T, "weekly")
    assert detail is not None
    assert (detail.budget_period, detail.alert_thresholds) == ("week", [50, 90])
    assert detail.budget_limit_cents == 500


async def test_a_bad_threshold_is_shown_on_its_field_and_nothing_is_saved(
    tfacade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    await add(tfacade, fake_server, "edited", budget_limit_cents=100, budget_period="week")
    async with loaded_app(tfacade, size=(100, 40)) as (app, pilot):
        await wait_for(pilot, lambda: table_names(app) == ["edited"])
        form = await open_screen(pilot, "e", FormScreen)
        period, thresholds = form.query_one("#period", Select), form.query_one("#thresholds", Input)
        assert (period.value, thresholds.value) == ("week", "80, 100")
        period.value, thresholds.value = "day", "0, 50"
        await pilot.press("ctrl+s")
        error = form.query_one("#err-thresholds", Label)
        await wait_for(pilot, lambda: error.display)
        assert isinstance(app.screen, FormScreen) and "from 1 to 1000" in str(error.render())
        detail = await tfacade.resolve_integration(T, "edited")
        assert detail is not None and detail.budget_period == "week"  # nothing saved
        thresholds.value = "50"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
    detail = await tfacade.resolve_integration(T, "edited")
    assert detail is not None
    assert (detail.budget_period, detail.alert_thresholds) == ("day", [50])


async def test_the_detail_and_limits_screens_name_the_period(
    tfacade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    week = await add(tfacade, fake_server, "weekly", budget_limit_cents=100, budget_period="week")
    await tfacade.record_usage(T, week.id, model="m", input_tokens=1, output_tokens=0,
                               cost_cents=40)  # fmt: skip
    async with loaded_app(tfacade, size=(120, 40)) as (app, pilot):
        await wait_for(pilot, lambda: table_names(app) == ["weekly"])
        screen = await open_screen(pilot, "enter", DetailScreen)
        title = screen.query_one("#detail-limits-title", Static)
        await wait_for(pilot, lambda: "week" in str(title.render()))
        assert str(title.render()) == "Limits this week (from Mon 2026-11-09 00:00 UTC)"
        assert "$1.00 a week" in str(screen.query_one("#detail-fields", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DetailScreen))
        limits = await open_screen(pilot, "L", LimitsScreen)
        table = limits.query_one("#limits-table")
        await wait_for(pilot, lambda: table.row_count == 1)
        assert "40%" in str(table.get_row_at(0)[1])
        assert str(table.get_row_at(0)[4]).endswith("· this week")
        assert str(limits.query_one("#limits-title", Static).render()) == (
            "Limits this week, worst first"
        )
