"""Snapshot tests of every screen at 80x24, 120x40 and 200x50 (pytest-textual-snapshot), and of
the main screens under NO_COLOR and in a light theme.

Deterministic: a fixed clock for the facade and the console, fixed integration ids, the sample
tenant of `tui.demo.sample`, cursor blink off, the database in the working directory (so the header
shows `byok.json`, not a temporary path). Each also checks that no secret reaches the screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from support.clock import fixed_clock
from support.console import wait_for
from textual.pilot import Pilot
from textual.widgets import Input

from core import IntegrationsFacade
from tui.app import ByokApp
from tui.demo.sample import SECRET, build_sample
from tui.notices import Notice
from tui.screens.command import CommandScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.help import HelpScreen
from tui.screens.home import HomeScreen
from tui.screens.limits import LimitsScreen
from tui.screens.notifications import NotificationsScreen
from tui.screens.toosmall import TooSmallScreen

SIZES = [
    pytest.param((80, 24), id="80x24"),
    pytest.param((120, 40), id="120x40"),
    pytest.param((200, 50), id="200x50"),
]
TYPED_SECRET = "sk-test-typed-in-the-form-9Zx1"


def _app(tmp_path: Path, theme: str | None) -> ByokApp:
    facade = IntegrationsFacade(tmp_path / "byok.json", clock=fixed_clock, durable=False)
    return ByokApp(
        facade,
        clock=fixed_clock,
        probe_interval_s=None,
        refresh_interval_s=None,
        cursor_blink=False,
        theme=theme,
    )


@pytest.fixture
def sample_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixed_ids: None) -> ByokApp:
    monkeypatch.chdir(tmp_path)
    return _app(tmp_path, "textual-dark")


@pytest.fixture(params=["no_color", "light_theme"])
def look_app(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixed_ids: None,
) -> ByokApp:
    """The sample app under NO_COLOR (the theme it picks itself), or in textual-light."""
    monkeypatch.chdir(tmp_path)
    if request.param == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
        return _app(tmp_path, None)
    return _app(tmp_path, "textual-light")


def _busy(app: ByokApp) -> bool:
    """A worker pending or running: a snapshot now could catch a screen half-updated."""
    return any(not w.is_finished for w in app.workers)


async def _load_sample(pilot, *, sample: bool = True) -> None:
    app = pilot.app
    home = app.home()
    await wait_for(pilot, lambda: home.loaded)  # the first paint (empty database) is done
    count = len(await build_sample(app.facade)) if sample else 0
    app.refresh_screens()
    await wait_for(pilot, lambda: home.listing is not None and home.listing.total == count)
    await wait_for(pilot, lambda: not _busy(app))
    await pilot.pause(0.1)


async def _settle(pilot) -> None:
    await wait_for(pilot, lambda: not _busy(pilot.app))
    await pilot.pause(0.2)
    await wait_for(pilot, lambda: not _busy(pilot.app))
    svg = pilot.app.export_screenshot()
    assert SECRET not in svg and TYPED_SECRET not in svg


def _settled_after(
    *presses: tuple[str, ...], sample: bool = True, theme: str | None = None, opens: type = object
) -> Callable[[Pilot], Awaitable[None]]:
    """A `run_before`: the sample loaded, each group of keys pressed in turn, the screen they
    open up (`opens`), the app settled."""

    async def run_before(pilot: Pilot) -> None:
        if theme is not None:
            pilot.app.theme = theme
            # the theme's reload first: one that read the file while the sample was half built
            # (no health yet) would make the next one announce every health as a change
            await wait_for(pilot, lambda: pilot.app.home().loaded)
            await wait_for(pilot, lambda: not _busy(pilot.app))
        await _load_sample(pilot, sample=sample)
        for keys in presses:
            await pilot.press(*keys)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, opens))
        await _settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_home(snap_compare, sample_app, size):
    assert snap_compare(sample_app, terminal_size=size, run_before=_settled_after(("j", "j")))


@pytest.mark.parametrize("size", SIZES)
def test_home_empty_onboarding(snap_compare, sample_app, size):
    assert snap_compare(sample_app, terminal_size=size, run_before=_settled_after(sample=False))


@pytest.mark.parametrize("size", SIZES)
def test_home_filtered_and_sorted(snap_compare, sample_app, size):
    by_health_worst_first, filter_e = ("s", "s", "s", "s"), ("slash", "e")
    run_before = _settled_after(by_health_worst_first, filter_e)
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_home_ansi_theme(snap_compare, sample_app, size):
    run_before = _settled_after(theme="ansi-dark")
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_detail(snap_compare, sample_app, size):
    async def run_before(pilot):
        await _load_sample(pilot)
        home = pilot.app.home()
        target = next(i for i, s in enumerate(home.view) if s.name == "openai-prod")
        home.table.move_cursor(row=target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DetailScreen))
        await _settle(pilot)

    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_form_with_inline_errors(snap_compare, sample_app, size):
    async def run_before(pilot):
        await _load_sample(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FormScreen))
        form = pilot.app.screen
        form.query_one("#name", Input).value = "OPENAI-PROD"
        form.query_one("#credential", Input).value = TYPED_SECRET
        form.query_one("#rpm", Input).value = "-5"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: form.query_one("#err-rpm").display)
        await _settle(pilot)

    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


# Screens one key opens from the home screen, each snapshotted once open and settled.
OPENED_BY_A_KEY = [
    pytest.param("L", LimitsScreen, id="limits"),
    pytest.param("H", HealthLogScreen, id="health_log"),
    pytest.param("e", FormScreen, id="edit_form"),
    pytest.param("d", ConfirmScreen, id="delete_confirm"),
    pytest.param("question_mark", HelpScreen, id="help"),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("key", "screen"), OPENED_BY_A_KEY)
def test_opened_by_a_key(snap_compare, sample_app, key, screen, size):
    run_before = _settled_after((key,), opens=screen)
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


# Columns that fit the width, the wide mode, the header at 80 columns, a too small terminal.
@pytest.mark.parametrize("size", SIZES)
def test_home_wide_mode(snap_compare, sample_app, size):
    assert snap_compare(sample_app, terminal_size=size, run_before=_settled_after(("w",)))


def test_terminal_too_small(snap_compare, sample_app):
    run_before = _settled_after(opens=TooSmallScreen)
    assert snap_compare(sample_app, terminal_size=(40, 12), run_before=run_before)


# NO_COLOR and a light theme: the main screens at 80x24.
LOOK_SCREENS = [
    pytest.param((), object, id="home"),
    pytest.param(("enter",), DetailScreen, id="detail"),
    pytest.param(("L",), LimitsScreen, id="limits"),
    pytest.param(("H",), HealthLogScreen, id="health_log"),
    pytest.param(("e",), FormScreen, id="edit_form"),
]


@pytest.mark.parametrize(("keys", "screen"), LOOK_SCREENS)
def test_look(snap_compare, look_app, keys, screen):
    run_before = _settled_after(keys, opens=screen)
    assert snap_compare(look_app, terminal_size=(80, 24), run_before=run_before)


# The k9s habits: command mode, the sort marker, marks, notifications, the help filter.
KEYS_AND_SCREENS = [
    pytest.param((("colon", *"sort b"),), CommandScreen, id="command_mode_open"),
    pytest.param((("colon", *"sort budget", "enter"),), HomeScreen, id="sorted_by_budget"),
    pytest.param((("space", "j", "j", "space", "j"),), HomeScreen, id="marks"),
    pytest.param((("question_mark", *"sort"),), HelpScreen, id="help_filtered"),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("presses", "screen"), KEYS_AND_SCREENS)
def test_keys(snap_compare, sample_app, presses, screen, size):
    run_before = _settled_after(*presses, opens=screen)
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_notifications_screen(snap_compare, sample_app, size):
    async def run_before(pilot):
        await _load_sample(pilot)
        notices = pilot.app.notices  # kept as notify() keeps them, without the toasts' timing
        at = fixed_clock()
        notices.add(Notice(at, "", "Saved.", "information"))
        notices.add(Notice(at, "Probe", "a name with [bold]brackets[/bold] stays", "information"))
        notices.add(Notice(at, "Health changed", "openai-prod: ✔ healthy → ✖ failing", "error"))
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, NotificationsScreen))
        await _settle(pilot)

    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)
