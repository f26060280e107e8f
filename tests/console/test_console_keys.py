"""Pilot tests of the k9s/lazygit habits at 80x24: command mode, sorting, marks and bulk actions,
the q/Escape rule, the limits search, the notifications screen, the help filter, the keymap file.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest
from support.console import notifications, open_screen, table_names, wait_for
from support.consoleapp import add, loaded_app
from textual.binding import Binding
from textual.widgets import Input

from core import IntegrationsFacade
from tui import command_mode
from tui.app import ByokApp
from tui.commands import key_label
from tui.screens.command import CommandScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.help import SECTIONS, HelpScreen
from tui.screens.home import SORTS
from tui.screens.limits import LimitsScreen
from tui.screens.notifications import NotificationsScreen


def header(app: ByokApp) -> str:
    table = app.home().table
    return table.render_line(0).text


async def command(pilot, line: str) -> None:
    """Open the command line, type `line`, run it."""
    await open_screen(pilot, "colon", CommandScreen)
    await pilot.press(*line)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, CommandScreen))


# -- command mode -------------------------------------------------------------------------------


def test_completion_and_parsing() -> None:
    assert command_mode.completions("li") == ["limits"]
    assert command_mode.completions("sort b") == ["sort budget"]
    assert command_mode.completions("sort budget d") == ["sort budget desc"]
    assert command_mode.completions("test ") == ["test all"]
    assert {"limits", "log", "new", "test", "sort", "quit"} <= set(command_mode.completions(""))
    assert command_mode.parse(":lim")[0].name == "limits"  # a unique prefix
    assert command_mode.parse("sort tokens asc")[1] == ["tokens", "asc"]
    with pytest.raises(command_mode.CommandError, match="Unknown command :frobnicate"):
        command_mode.parse("frobnicate")
    with pytest.raises(command_mode.CommandError, match="could be"):
        command_mode.parse("l")
    with pytest.raises(command_mode.CommandError, match="Usage: :sort"):
        command_mode.parse("sort")
    with pytest.raises(command_mode.CommandError, match="'colour' is not one of"):
        command_mode.parse("sort colour")
    # every sort of the list can be named, and every command has something to run
    assert set(command_mode.SORT_NAMES) == {s.name for s in SORTS}
    assert set(command_mode.RUNS) == {c.name for c in command_mode.COMMANDS}


async def test_command_mode_completes_runs_and_refuses(tfacade, fake_server):
    await add(tfacade, fake_server, "one")
    async with loaded_app(tfacade) as (app, pilot):
        screen = await open_screen(pilot, "colon", CommandScreen)
        await pilot.press("l", "i")
        box = screen.query_one("#command-input", Input)
        await pilot.press("tab")  # takes the completion
        assert box.value == "limits"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsScreen))
        await command(pilot, "log")
        await wait_for(pilot, lambda: isinstance(app.screen, HealthLogScreen))
        await command(pilot, "frobnicate")
        await wait_for(
            pilot, lambda: any("Unknown command :frobnicate" in n for n in notifications(app))
        )
        assert isinstance(app.screen, HealthLogScreen)  # nothing else happened
        await command(pilot, "sort name")  # about the list: back to it first
        await wait_for(pilot, lambda: app.screen is app.home())
        await wait_for(pilot, lambda: app.home().sort_index == 1)
        await command(pilot, "new")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.home())
        await open_screen(pilot, "colon", CommandScreen)
        await pilot.press("escape")  # closes without running anything
        await wait_for(pilot, lambda: app.screen is app.home())
        await command(pilot, "q")
        await pilot.pause(0.2)
    assert app.return_code in (0, None)


async def test_command_test_all_probes_every_integration(tfacade, fake_server):
    for name in ("a", "b"):
        await add(tfacade, fake_server, name)
    async with loaded_app(tfacade) as (app, pilot):
        await command(pilot, "test all")
        await wait_for(pilot, lambda: any("Tested 2: 0 failing" in n for n in notifications(app)))


# -- sorting ------------------------------------------------------------------------------------


async def usage_world(facade: IntegrationsFacade, server) -> dict[str, str]:
    """Three integrations whose budget, token and rpm figures sort differently."""
    made = {
        "low": await add(
            facade, server, "low", budget_limit_cents=1000, token_limit_month=100, rate_limit_rpm=10
        ),
        "high": await add(
            facade,
            server,
            "high",
            budget_limit_cents=100,
            token_limit_month=10_000,
            rate_limit_rpm=100,
        ),
        "free": await add(facade, server, "free"),
    }
    for name, cents, tokens in (("low", 100, 90), ("high", 90, 100)):
        await facade.record_usage(
            "default",
            made[name].id,
            model="m",
            input_tokens=tokens,
            output_tokens=0,
            cost_cents=cents,
        )
    return {name: d.id for name, d in made.items()}


async def test_sort_by_usage_columns_with_reverse_and_a_header_marker(tfacade, fake_server):
    await usage_world(tfacade, fake_server)
    async with loaded_app(tfacade) as (app, pilot):
        home = app.home()
        await command(pilot, "sort budget")  # 90% before 10%; unlimited last, either way
        await wait_for(pilot, lambda: table_names(app) == ["high", "low", "free"])
        assert "Budget ▼" in header(app)
        await pilot.press("S")
        await wait_for(pilot, lambda: table_names(app) == ["low", "high", "free"])
        assert "Budget ▲" in header(app) and "sort: budget ▲" in str(
            app.screen.query_one("#status-line").render()
        )
        await command(pilot, "sort tokens")  # 90% vs 1%
        await wait_for(pilot, lambda: table_names(app) == ["low", "high", "free"])
        assert "Tokens ▼" in header(app) and "Budget ▲" not in header(app)
        await command(pilot, "sort rpm asc")  # both 1 request: 10% vs 1%
        await wait_for(pilot, lambda: table_names(app) == ["high", "low", "free"])
        assert "RPM ▲" in header(app)
        await command(pilot, "sort name desc")
        await wait_for(pilot, lambda: table_names(app) == ["low", "high", "free"])
        assert "Name ▼" in header(app)
        await pilot.press("s")  # the next sort, in its own direction
        await wait_for(pilot, lambda: home.sort_index == 2 and not home.sort_reverse)
        assert "Provider ▲" in header(app)


# -- marks and bulk actions ---------------------------------------------------------------------


async def mark_rows(pilot, count: int) -> None:
    for _ in range(count):
        await pilot.press("space", "j")


async def test_marks_and_bulk_enable_disable_test_delete_ask_once(tfacade, fake_server, fixed_ids):
    fake_server.script("sk-test-bad-0009", "401")
    await add(tfacade, fake_server, "keep")
    await add(tfacade, fake_server, "bad", credential="sk-test-bad-0009")
    for name in ("m1", "m2"):
        await add(tfacade, fake_server, name)
    async with loaded_app(tfacade) as (app, pilot):
        home = app.home()
        assert table_names(app) == ["m2", "m1", "bad", "keep"]
        await mark_rows(pilot, 3)
        assert list(home.marked.values()) == ["m2", "m1", "bad"]
        assert "3 marked" in str(app.screen.query_one("#status-line").render())
        assert home.table.render_line(1).text.startswith("●")  # readable without colour
        assert not home.table.render_line(4).text.startswith("●")

        question = await open_screen(pilot, "minus", ConfirmScreen)
        assert question.question == "Disable 3 marked integrations?"
        assert "m2, m1, bad" in question.detail
        await pilot.press("y")
        await wait_for(pilot, lambda: any("Disabled 3 of 3" in n for n in notifications(app)))
        statuses = {i.name: i.status for i in (await tfacade.list_integrations("default")).items}
        assert statuses == {
            "m2": "disabled",
            "m1": "disabled",
            "bad": "disabled",
            "keep": "created",
        }
        assert home.marked == {}  # acted on: unmarked

        await pilot.press("g")
        await mark_rows(pilot, 2)
        question = await open_screen(pilot, "plus", ConfirmScreen)
        assert question.question == "Enable 2 marked integrations?"
        await pilot.press("y")
        await wait_for(pilot, lambda: any("Enabled 2 of 2" in n for n in notifications(app)))

        await pilot.press("g", "j")
        await mark_rows(pilot, 2)  # m1, bad
        question = await open_screen(pilot, "t", ConfirmScreen)
        assert question.question == "Test 2 marked integrations?"
        await pilot.press("y")
        await wait_for(pilot, lambda: any("Tested 2: 1 failing" in n for n in notifications(app)))
        assert len(await tfacade.get_health_log("default")) == 2

        await pilot.press("g")
        await mark_rows(pilot, 3)
        await pilot.press("escape")  # no filter: escape clears the marks
        assert home.marked == {}
        await pilot.press("g")
        await mark_rows(pilot, 3)
        await open_screen(pilot, "d", ConfirmScreen)
        await pilot.press("n")  # one refusal: nothing deleted, marks kept
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert len(home.marked) == 3
        question = await open_screen(pilot, "d", ConfirmScreen)
        assert question.question == "Delete 3 marked integrations?"
        await pilot.press("y")
        await wait_for(pilot, lambda: table_names(app) == ["keep"])
        assert any("Deleted 3 of 3" in n for n in notifications(app))
        assert [i.name for i in (await tfacade.list_integrations("default")).items] == ["keep"]


async def test_mark_all_marks_every_filtered_row_across_pages(tfacade, fake_server):
    for name in ("pay-1", "pay-2", "other"):
        await add(tfacade, fake_server, name)
    async with loaded_app(tfacade) as (app, pilot):
        await pilot.press("slash", *"pay", "enter")
        await wait_for(pilot, lambda: len(table_names(app)) == 2)
        await command(pilot, "mark all")
        assert sorted(app.home().marked.values()) == ["pay-1", "pay-2"]
        await command(pilot, "mark none")
        assert app.home().marked == {}


# -- q and Escape -------------------------------------------------------------------------------


async def test_q_and_escape_go_back_one_screen_everywhere_and_q_quits_the_list(
    tfacade, fake_server
):
    created = await add(tfacade, fake_server, "one")
    async with loaded_app(tfacade) as (app, pilot):
        home = app.home()
        for key in ("escape", "q"):
            for opener, screen in (
                ("enter", DetailScreen),
                ("L", LimitsScreen),
                ("H", HealthLogScreen),
                ("ctrl+n", NotificationsScreen),
                ("question_mark", HelpScreen),
                ("d", ConfirmScreen),
            ):
                opened = await open_screen(pilot, opener, screen)
                if isinstance(opened, HelpScreen):
                    await pilot.press("enter")  # out of the filter field: q is not a letter
                await pilot.press(key)
                await wait_for(pilot, lambda: app.screen is home)
        # two screens deep, one press goes back one
        await open_screen(pilot, "L", LimitsScreen)
        app.open_detail(created.id)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsScreen))
        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen is home)
        # a form: q is only a letter, even off a text field; Escape closes it
        form = await open_screen(pilot, "n", FormScreen)
        form.query_one("#provider").focus()
        await pilot.press("q")
        await pilot.pause(0.2)
        assert app.screen is form and app.is_running
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is home)
        assert (await tfacade.get_integration("default", created.id)) is not None
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code in (0, None)


# -- limits search ------------------------------------------------------------------------------


async def test_limits_search_and_next_previous_match(tfacade, fake_server):
    for name, cents in (("pay-a", 90), ("ops", 80), ("pay-b", 50), ("pay-c", 10)):
        made = await add(tfacade, fake_server, name, budget_limit_cents=100)
        await tfacade.record_usage(
            "default", made.id, model="m", input_tokens=1, output_tokens=0, cost_cents=cents
        )
    async with loaded_app(tfacade) as (app, pilot):
        screen = await open_screen(pilot, "L", LimitsScreen)
        table = screen.query_one("#limits-table")
        await wait_for(pilot, lambda: table.row_count == 4)
        assert screen.names == ["pay-a", "ops", "pay-b", "pay-c"]

        def at() -> str:
            return screen.names[table.cursor_row]

        await pilot.press("slash", *"pay")
        await wait_for(pilot, lambda: at() == "pay-a")
        await pilot.press("enter")  # back to the rows: n and N are keys again
        title = lambda: str(screen.query_one("#limits-title").render())  # noqa: E731
        assert "match 1 of 3" in title()
        await pilot.press("n")
        assert at() == "pay-b" and "match 2 of 3" in title()
        await pilot.press("n")
        assert at() == "pay-c"
        await pilot.press("n")  # wraps round
        assert at() == "pay-a"
        await pilot.press("N")  # and back
        assert at() == "pay-c"
        await pilot.press("escape")  # clears the search first
        assert "/pay" not in title() and isinstance(app.screen, LimitsScreen)
        await pilot.press("slash", *"zzz")
        await wait_for(pilot, lambda: "no match" in title())
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: app.screen is app.home())


# -- notifications ------------------------------------------------------------------------------


async def test_notifications_screen_keeps_every_one_newest_first_literally(tfacade):
    async with loaded_app(tfacade) as (app, pilot):
        app.notify("first [bold]not markup[/bold]", title="One")
        app.notify("second [link=x]y", title="Two", severity="error")  # bad markup: no crash
        screen = await open_screen(pilot, "ctrl+n", NotificationsScreen)
        text = str(screen.query_one("#notices-list").render())
        assert text.index("second [link=x]y") < text.index("first [bold]not markup[/bold]")
        assert "error" in text and "Two" in text
        app.notify("third, while open")
        await wait_for(
            pilot, lambda: "third, while open" in str(screen.query_one("#notices-list").render())
        )
        assert "3" in str(screen.query_one("#notices-title").render())
        await command(pilot, "notifications")  # the same screen, not a second one
        assert isinstance(app.screen, NotificationsScreen)


# -- help ---------------------------------------------------------------------------------------


async def test_help_filters_as_you_type(tfacade):
    async with loaded_app(tfacade, size=(80, 24)) as (app, pilot):
        screen = await open_screen(pilot, "question_mark", HelpScreen)
        await pilot.press(*"reverse")

        def ids() -> set[str]:
            return {binding_id for _, _, binding_id in screen.shown}

        await wait_for(pilot, lambda: "home.sort_reverse" in ids())
        assert "home.filter" not in ids() and "app.help" not in ids()
        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: "home.filter" in ids())
        await pilot.press(*"qqqq")  # in the filter, q is a letter
        await wait_for(pilot, lambda: not screen.shown)
        assert "No&#160;key&#160;matches" in app.export_screenshot()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: app.screen is app.home())


# -- the keymap file ----------------------------------------------------------------------------


def keymap_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "keymap.toml"
    path.write_text(text)
    monkeypatch.setenv("BYOK_KEYMAP", str(path))
    return path


async def test_keymap_file_remaps_bindings_by_id(tfacade, tmp_path, monkeypatch):
    keymap_file(tmp_path, monkeypatch, '"home.limits" = "z"\n[app]\nhelp = "h,?"\n')
    async with loaded_app(tfacade) as (app, pilot):
        await wait_for(pilot, lambda: app.key_overrides != {})
        assert app.key_overrides == {"home.limits": "z", "app.help": "h,question_mark"}
        applied = app.notices.newest_first()[0]  # kept at once; the toast comes by a message
        assert applied.title == "Keymap applied" and applied.message.startswith("2 bindings from")
        await open_screen(pilot, "z", LimitsScreen)
        await pilot.press("escape")
        help_screen = await open_screen(pilot, "h", HelpScreen)
        assert ("z", "Every integration's limits", "home.limits") in help_screen.shown
        assert ("h, ?", "Every key", "app.help") in help_screen.shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.home())
        await pilot.press("L")  # the old key no longer opens it
        await pilot.pause(0.2)
        assert app.screen is app.home()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('home.limits = "z"\n"home.nope" = "y"\n', "'home.nope' is not a binding id"),
        ('home.limits = "not a key"\n', "'not a key' is not a key name"),
        ("home.limits = 5\n", "must be a string of keys"),
        ("home.limits = [\n", "not valid TOML"),
    ],
)
async def test_a_bad_keymap_file_is_reported_and_the_defaults_stay(
    tfacade, tmp_path, monkeypatch, text, says
):
    path = keymap_file(tmp_path, monkeypatch, text)
    async with loaded_app(tfacade) as (app, pilot):
        await wait_for(pilot, lambda: any("Keymap not applied" in n for n in notifications(app)))
        report = next(n for n in notifications(app) if "Keymap not applied" in n)
        assert str(path) in report and says in report
        assert app.key_overrides == {}
        await open_screen(pilot, "L", LimitsScreen)  # the default key still works


# -- bindings: ids, tooltips, the docstring tables, the palette ---------------------------------


def docstring_table_after_bindings(cls: type) -> str:
    """The string literal right after `BINDINGS = [...]` in the class body."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    for index, node in enumerate(body):
        targets = [getattr(node, "target", None), *getattr(node, "targets", [])]
        if any(isinstance(t, ast.Name) and t.id == "BINDINGS" for t in targets):
            after = body[index + 1]
            assert isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant), cls
            return str(after.value.value)
    raise AssertionError(f"{cls.__name__} has no BINDINGS")


@pytest.mark.parametrize(
    "cls", [ByokApp, *(node for _, node in SECTIONS)], ids=lambda c: c.__name__
)
def test_every_binding_has_an_id_a_tooltip_and_a_row_in_its_docstring_table(cls):
    table = docstring_table_after_bindings(cls)
    rows = [line.strip() for line in table.splitlines() if line.strip().startswith("|")][2:]
    bindings = [b for b in cls.BINDINGS if isinstance(b, Binding)]
    assert len(rows) == len(bindings), cls
    for row, binding in zip(rows, bindings, strict=True):
        assert binding.id and binding.tooltip, binding
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells == [key_label(binding.key), binding.id, binding.tooltip], (row, binding)
