"""Pilot tests of every console action and flow, on a real database and the fake provider."""

from __future__ import annotations

import os
import subprocess
import sys
from inspect import isclass
from pathlib import Path

from support.clock import fixed_clock
from support.console import notifications, open_screen, table_names, wait_for
from support.consoleapp import SECRET, add, loaded, loaded_app, make_app
from textual.pilot import Pilot
from textual.widgets import Input, Label, Select

from core import IntegrationsFacade
from tui.app import ByokApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.help import HelpScreen
from tui.screens.home import PAGE_SIZE
from tui.screens.limits import LimitsScreen
from tui.widgets.rowtable import RowTable


async def test_empty_database_shows_onboarding(tfacade):
    async with loaded_app(tfacade) as (app, _pilot):
        assert app.screen.query_one("#onboarding").display
        assert not app.screen.query_one("#body").display
        text = str(app.screen.query_one("#onboarding-text").render())
        assert "Press n to add your first one" in text


async def test_first_integration_ends_onboarding_and_the_table_has_the_keys(tfacade, fake_server):
    async with loaded_app(tfacade) as (app, pilot):
        await wait_for(pilot, lambda: app.screen.query_one("#onboarding").display)
        app.set_focus(None)  # what a hidden table ends with, whatever the timing of the focus
        await add(tfacade, fake_server, "first")  # as another process would (live refresh)
        await add(tfacade, fake_server, "second")
        await wait_for(pilot, lambda: len(table_names(app)) == 2)
        await pilot.pause()  # the rows are drawn at once, the focus comes by a queued call
        table = app.home().table
        assert app.screen.query_one("#body").display
        assert app.focused is table  # onboarding hid it; it gets the focus back
        # The cursor stays on its integration across refreshes: where it stands depends on whether
        # the two rows came in one refresh or two; `home` puts it on the first row either way.
        await pilot.press("home")  # keys of the table itself, not of the screen
        assert table.cursor_row == 0
        await pilot.press("down")
        assert table.cursor_row == 1


async def test_create_through_the_form(tfacade, fake_server):
    async with loaded_app(tfacade) as (app, pilot):
        await open_screen(pilot, "n", FormScreen)
        await pilot.press(*"openai-main")
        app.screen.query_one("#credential", Input).focus()
        await pilot.press(*SECRET)
        app.screen.query_one("#base_url", Input).value = fake_server.base_url_for("openai")
        app.screen.query_one("#budget", Input).value = "12.50"
        app.screen.query_one("#rpm", Input).value = "60"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        await wait_for(pilot, lambda: table_names(app) == ["openai-main"])
        page = await tfacade.list_integrations("default")
        detail = await tfacade.get_integration("default", page.items[0].id)
        assert detail.budget_limit_cents == 1250 and detail.rate_limit_rpm == 60
        assert detail.credential_hint.endswith("Xy7Q")
        assert SECRET not in app.export_screenshot()


async def save_new_until_the_name_is_refused(pilot: Pilot, **fields: str) -> FormScreen:
    """Open the new-integration form, set `fields` (by id), save; once the name's error shows."""
    form = await open_screen(pilot, "n", FormScreen)
    for field, value in fields.items():
        form.query_one(f"#{field}", Input | Select).value = value
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: form.query_one("#err-name", Label).display)
    return form


async def test_validation_errors_show_inline_and_nothing_is_saved(tfacade):
    async with loaded_app(tfacade) as (app, pilot):
        form = await save_new_until_the_name_is_refused(pilot, provider="custom", tokens="lots")
        assert str(form.query_one("#err-name", Label).render()) == "↑ cannot be empty"
        assert "required for custom" in str(form.query_one("#err-base_url", Label).render())
        assert "whole number" in str(form.query_one("#err-tokens", Label).render())
        assert isinstance(app.screen, FormScreen)
        assert (await tfacade.list_integrations("default")).total == 0


async def test_duplicate_name_is_shown_next_to_the_name(tfacade, fake_server):
    await add(tfacade, fake_server, "taken")
    async with loaded_app(tfacade) as (_app, pilot):
        form = await save_new_until_the_name_is_refused(
            pilot, name=" TAKEN ", credential="sk-test-other-1234"
        )
        assert "already exists" in str(form.query_one("#err-name", Label).render())
        assert (await tfacade.list_integrations("default")).total == 1


async def test_edit_changes_fields_and_keeps_the_key(tfacade, fake_server):
    created = await add(tfacade, fake_server, "old-name")
    async with loaded_app(tfacade) as (app, pilot):
        form = await open_screen(pilot, "e", FormScreen)
        assert form.query_one("#provider", Select).disabled
        form.query_one("#name", Input).value = "new-name"
        form.query_one("#budget", Input).value = "$1,000"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: table_names(app) == ["new-name"])
        detail = await tfacade.get_integration("default", created.id)
        assert detail.budget_limit_cents == 100_000
        assert detail.credential_hint == created.credential_hint


async def test_delete_cancelled_then_confirmed(tfacade, fake_server, fixed_ids):
    await add(tfacade, fake_server, "keep-me")
    await add(tfacade, fake_server, "doomed")
    async with loaded_app(tfacade) as (app, pilot):
        assert table_names(app) == ["doomed", "keep-me"]
        await open_screen(pilot, "d", ConfirmScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await open_screen(pilot, "d", ConfirmScreen)
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert (await tfacade.list_integrations("default")).total == 2
        await open_screen(pilot, "d", ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: table_names(app) == ["keep-me"])
        names = [i.name for i in (await tfacade.list_integrations("default")).items]
        assert names == ["keep-me"]


async def test_enable_and_disable_ask_then_act(tfacade, fake_server):
    """+ enables, - disables (space marks now); each asks first, naming the integration."""
    created = await add(tfacade, fake_server, "flip")
    async with loaded_app(tfacade) as (app, pilot):
        question = await open_screen(pilot, "plus", ConfirmScreen)
        assert question.question == "Enable flip?"
        await pilot.press("y")
        await wait_for(
            pilot, lambda: str(app.screen.query_one("#table").get_row_at(0)[3]) == "enabled"
        )
        assert (await tfacade.get_integration("default", created.id)).status == "enabled"
        await open_screen(pilot, "minus", ConfirmScreen)
        await pilot.press("n")  # asked, refused: nothing changes
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.3)
        assert (await tfacade.get_integration("default", created.id)).status == "enabled"
        await open_screen(pilot, "minus", ConfirmScreen)
        await pilot.press("y")
        await wait_for(
            pilot, lambda: str(app.screen.query_one("#table").get_row_at(0)[3]) == "disabled"
        )


async def test_test_one_probes_the_fake_provider(tfacade, fake_server):
    created = await add(tfacade, fake_server, "probe-me")
    async with loaded_app(tfacade) as (app, pilot):
        await pilot.press("t")
        await wait_for(
            pilot, lambda: "healthy" in str(app.screen.query_one("#table").get_row_at(0)[0])
        )
        assert str(app.screen.query_one("#table").get_row_at(0)[0]) == "✔ healthy"
        assert any(n.startswith("Probe: ✔ healthy") for n in notifications(app))
        assert await tfacade.get_models("default", created.id) == [
            "gpt-4.1",
            "gpt-4o",
            "gpt-4o-mini",
        ]
        assert any(r.path.endswith("/models") for r in fake_server.requests)
        # the edit form now offers the probed models in a select
        await open_screen(pilot, "e", FormScreen)
        assert len(app.screen.query("#model_select")) == 1


async def test_edit_offers_models_probed_by_another_process(tfacade, fake_server):
    created = await add(tfacade, fake_server, "probed-elsewhere")
    other = IntegrationsFacade(tfacade.db_path, durable=False)  # as `byok test` from cron
    try:
        await other.test_credentials("default", created.id)
    finally:
        await other.aclose()
    async with loaded_app(tfacade) as (app, pilot):
        await open_screen(pilot, "e", FormScreen)
        await wait_for(pilot, lambda: len(app.screen.query("#model_select")) == 1)


async def test_test_all_shows_progress_and_probes_every_integration(tfacade, fake_server):
    fake_server.script("sk-test-bad-0001", "401")
    for i in range(6):
        await add(tfacade, fake_server, f"p{i}")
    await add(tfacade, fake_server, "bad", credential="sk-test-bad-0001")
    async with loaded_app(tfacade) as (app, pilot):
        await pilot.press("T")
        await wait_for(pilot, lambda: any("Test all" in n for n in notifications(app)))
        assert any("Tested 7: 1 failing" in n for n in notifications(app))
        await wait_for(
            pilot,
            lambda: (
                app.home().listing.counts
                == {"healthy": 6, "degraded": 0, "failing": 1, "unknown": 0}
            ),
        )
        assert not app.screen.query_one("#test-progress").display
        assert len(await tfacade.get_health_log("default")) == 7


async def test_filter_and_escape_clear(tfacade, fake_server):
    for name in ("alpha", "beta", "alphabet"):
        await add(tfacade, fake_server, name)
    async with loaded_app(tfacade) as (app, pilot):
        await pilot.press("slash", *"alpha")
        await wait_for(pilot, lambda: sorted(table_names(app)) == ["alpha", "alphabet"])
        await pilot.press("enter")  # back to the table, filter kept
        assert isinstance(app.focused, RowTable)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table_names(app)) == 3)
        await pilot.press("slash", *"zzz")
        await wait_for(pilot, lambda: table_names(app) == [])
        assert "No integration matches" in str(app.screen.query_one("#panel").render())


async def test_sort_cycles_columns(tfacade, fake_server, fixed_ids):
    for name in ("b", "c", "a"):
        await add(tfacade, fake_server, name)
    async with loaded_app(tfacade) as (app, pilot):
        assert table_names(app) == ["a", "c", "b"]  # newest first
        await pilot.press("s")
        await wait_for(pilot, lambda: table_names(app) == ["a", "b", "c"])
        assert "sort: name" in str(app.screen.query_one("#status-line").render())


async def test_navigation_keys_and_pages(tfacade, fake_server, fixed_ids):
    items = [
        {
            "name": f"n{i:04d}",
            "provider_type": "ollama",
            "config": {"base_url": fake_server.base_url_for("ollama")},
        }
        for i in range(PAGE_SIZE * 2 + 5)
    ]
    await tfacade.create_integrations("default", items)
    async with loaded_app(tfacade) as (app, pilot):
        home = app.home()
        table = app.screen.query_one("#table")
        await pilot.press("s")  # by name; the cursor stays on the same integration
        await wait_for(
            pilot, lambda: "sort: name" in str(app.screen.query_one("#status-line").render())
        )
        assert home.current().name == f"n{PAGE_SIZE * 2 + 4:04d}"
        await pilot.press("g")
        await wait_for(
            pilot, lambda: home.current_id() is not None and home.current().name == "n0000"
        )
        await pilot.press("j", "j", "down")
        assert home.current().name == "n0003"
        await pilot.press("k")
        assert home.current().name == "n0002"
        await pilot.press("G")
        await wait_for(
            pilot,
            lambda: (
                home.current() is not None and home.current().name == f"n{PAGE_SIZE * 2 + 4:04d}"
            ),
        )
        assert home.page == 2 and table.row_count == 5
        await pilot.press("g")
        await wait_for(pilot, lambda: home.current() is not None and home.current().name == "n0000")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: home.page == 1 and home.current().name == f"n{PAGE_SIZE:04d}")
        await open_screen(pilot, "enter", DetailScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DetailScreen))
        assert home.current().name == f"n{PAGE_SIZE:04d}"


# The other process runs on the console's (fixed) clock: the rolling minute of what a process
# folds is the minute of its clock, and processes sharing a database share the time.
WRITER = """
import asyncio, sys
from datetime import datetime
from core import IntegrationsFacade
async def main():
    now = datetime.fromisoformat(sys.argv[2])
    f = IntegrationsFacade(sys.argv[1], clock=lambda: now)
    page = await f.list_integrations("default")
    target = [i for i in page.items if i.name == "watched"][0]
    await f.update_integration("default", target.id, rate_limit_rpm=10)
    await f.record_usage("default", target.id, model="gpt-4o", input_tokens=5, output_tokens=5,
                         cost_cents=1, at=sys.argv[2])
    await f.create_integration("default", name="from-another-process", provider_type="ollama",
                               config={"base_url": "http://127.0.0.1:9"})
    await f.aclose()
asyncio.run(main())
"""


async def test_live_refresh_after_another_process_writes(
    tfacade, fake_server, db_path: Path, fixed_ids
):
    await add(tfacade, fake_server, "watched")
    await add(tfacade, fake_server, "other")
    app = ByokApp(tfacade, probe_interval_s=None, refresh_interval_s=0.2, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        await pilot.press("j")
        home = app.home()
        assert home.current().name == "watched"
        done = subprocess.run(
            [sys.executable, "-c", WRITER, str(db_path), fixed_clock().isoformat()],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        await wait_for(pilot, lambda: "from-another-process" in table_names(app))
        await wait_for(
            pilot,
            lambda: (
                home.limits.get(home.current_id()) is not None
                and home.limits[home.current_id()].requests_this_minute == 1
            ),
        )
        assert home.current().name == "watched"  # the cursor stayed on the same integration
        row = home.table.get_row_at(home.table.cursor_row)  # the row of home.current()
        assert str(row[7]) == "1/10"


async def test_detail_screen_shows_gauges_log_and_alerts(tfacade, fake_server):
    created = await add(
        tfacade,
        fake_server,
        "detailed",
        budget_limit_cents=100,
        token_limit_month=1000,
        rate_limit_rpm=5,
    )
    await tfacade.test_credentials("default", created.id)
    await tfacade.record_usage(
        "default", created.id, model="gpt-4o", input_tokens=900, output_tokens=500, cost_cents=150
    )
    async with loaded_app(tfacade, size=(120, 40)) as (app, pilot):
        screen = await open_screen(pilot, "enter", DetailScreen)
        await wait_for(
            pilot,
            lambda: (
                screen.query_one("#gauge-budget").has_class("-over")
                and len(screen.query_one("#latency").data) == 1
            ),
        )
        assert "150%" in str(screen.query_one("#gauge-budget .gauge-value").render())
        assert screen.query_one("#gauge-tokens").has_class("-over")
        assert screen.query_one("#gauge-rpm").has_class("-warn") is False
        assert len(screen.query_one("#latency").data) == 1
        assert "ok" in str(screen.query_one("#detail-log").render())
        assert "100% budget" in str(screen.query_one("#detail-alerts").render())
        assert "Xy7Q (source: encrypted)" in str(screen.query_one("#detail-fields").render())
        assert SECRET not in app.export_screenshot()


async def test_limits_screen_worst_first_and_live(tfacade, fake_server):
    low = await add(tfacade, fake_server, "low", budget_limit_cents=10_000)
    high = await add(tfacade, fake_server, "high", budget_limit_cents=100)
    await add(tfacade, fake_server, "free")
    await tfacade.record_usage(
        "default", high.id, model="m", input_tokens=1, output_tokens=1, cost_cents=90
    )
    async with loaded_app(tfacade) as (app, pilot):
        await open_screen(pilot, "L", LimitsScreen)
        table = app.screen.query_one("#limits-table")
        await wait_for(pilot, lambda: table.row_count == 2)
        assert [str(table.get_row_at(i)[0]) for i in range(2)] == ["high", "low"]
        await tfacade.record_usage(
            "default", low.id, model="m", input_tokens=1, output_tokens=1, cost_cents=20_000
        )
        await wait_for(pilot, lambda: str(table.get_row_at(0)[0]) == "low")
        assert "200%" in str(table.get_row_at(0)[1])
        assert "1 unlimited" in str(app.screen.query_one("#limits-status").render())


async def test_health_log_screen_filters(tfacade, fake_server):
    fake_server.script("sk-test-bad-0002", "401")
    good = await add(tfacade, fake_server, "good")
    bad = await add(tfacade, fake_server, "bad", credential="sk-test-bad-0002")
    for iid in (good.id, bad.id, good.id):
        await tfacade.test_credentials("default", iid)
    async with loaded_app(tfacade) as (app, pilot):
        await open_screen(pilot, "H", HealthLogScreen)
        table = app.screen.query_one("#log-table")
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("f", "f", "f")  # all -> healthy -> degraded -> failing
        await wait_for(pilot, lambda: table.row_count == 1)
        assert str(table.get_row_at(0)[1]) == "bad"
        await pilot.press("f", "f")  # unknown -> all
        await pilot.press("slash", *"goo")
        await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HealthLogScreen))


async def test_help_lists_every_binding_with_its_id(tfacade):
    async with loaded_app(tfacade, size=(120, 60)) as (app, pilot):  # tall: no scrolling
        await open_screen(pilot, "question_mark", HelpScreen)
        svg = app.export_screenshot()
        for binding_id in (
            "home.filter",
            "home.test_all",
            "home.mark",
            "home.enable",
            "app.quit",
            "home.limits",
            "home.health_log",
            "home.sort",
        ):
            assert binding_id in svg
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def palette_titles(app: ByokApp) -> set[str]:
    """Every command the palette lists on the current screen before anything is typed."""
    titles = set()
    for provider in app.COMMANDS:
        source = provider if isclass(provider) else provider()
        async for hit in source(app.screen).discover():
            titles.add(str(hit.display))
    return titles


async def run_from_palette(pilot, title: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.press(*title)
    await pilot.pause(0.5)
    await pilot.press("enter")


async def test_every_binding_has_an_id_and_a_command_in_the_palette(tfacade, fake_server):
    from tui.screens.help import SECTIONS

    for node in [ByokApp, *(screen for _, screen in SECTIONS)]:
        for binding in node.BINDINGS:
            assert binding.id and binding.tooltip, binding
    created = await add(tfacade, fake_server, "one")
    app = make_app(tfacade)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        assert {"Theme", "Quit", "Keys", "Screenshot"} <= await palette_titles(app)  # Textual's
        for pushed in (
            None,  # home
            DetailScreen(created.id),
            LimitsScreen(),
            HealthLogScreen(),
            FormScreen(),
            ConfirmScreen("Delete?"),
            HelpScreen(),
        ):
            if pushed is not None:  # from the app's own task, as a key would: compose needs it
                app.call_later(app.push_screen, pushed)
                await wait_for(pilot, lambda s=pushed: app.screen is s)
            titles = await palette_titles(app)
            for binding in [*app.screen.BINDINGS, *app.BINDINGS]:
                assert binding.description in titles, (app.screen, binding)
            if pushed is not None:
                app.pop_screen()
                await wait_for(pilot, lambda: app.screen is app.home())

        # Running one runs its binding's action: the screen's, then the app's.
        home = app.home()
        await run_from_palette(pilot, "Sort")
        await wait_for(pilot, lambda: home.sort_index == 1)
        await run_from_palette(pilot, "Limits")
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsScreen))
        await run_from_palette(pilot, "Back")
        await wait_for(pilot, lambda: app.screen is home)
        await run_from_palette(pilot, "Help")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_background_probe_notifies_a_state_change(tfacade, fake_server):
    created = await add(tfacade, fake_server, "flaky")
    await tfacade.enable_integration("default", created.id)
    async with loaded_app(tfacade, probe_interval_s=0.3) as (app, pilot):
        await wait_for(
            pilot,
            lambda: any("Health changed" in n and "✔ healthy" in n for n in notifications(app)),
        )
        assert str(app.screen.query_one("#table").get_row_at(0)[0]) == "✔ healthy"


async def test_limit_alert_notification(tfacade, fake_server):
    created = await add(tfacade, fake_server, "spender", budget_limit_cents=100)
    async with loaded_app(tfacade) as (app, pilot):
        await pilot.pause(0.3)
        await tfacade.record_usage(
            "default", created.id, model="m", input_tokens=1, output_tokens=1, cost_cents=85
        )
        await wait_for(pilot, lambda: any("Limit alert (80%)" in n for n in notifications(app)))


async def test_quit(tfacade):
    async with loaded_app(tfacade) as (app, pilot):
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code in (0, None)


async def test_no_color_uses_the_ansi_theme_and_reads_without_colour(
    tfacade, fake_server, monkeypatch
):
    monkeypatch.setenv("NO_COLOR", "1")
    await add(tfacade, fake_server, "plain", budget_limit_cents=100)
    async with loaded_app(tfacade) as (app, _pilot):
        assert app.no_color and app.theme == "ansi-dark"
        row = app.screen.query_one("#table").get_row_at(0)
        assert str(row[0]) == "? unknown" and str(row[3]) == "created"
