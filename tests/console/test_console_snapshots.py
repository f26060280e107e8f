"""Snapshot tests of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

Deterministic: a fixed clock for the facade and the console, fixed integration ids, the sample
tenant of `tui.demo.sample`, cursor blink off, the database in the working directory (so the header
shows `byok.json`, not a temporary path). Each also checks that no secret reaches the screen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.console import fixed_clock, wait_for
from textual.widgets import Input

from core import IntegrationsFacade
from tui.app import ByokApp
from tui.demo.sample import SECRET, build_sample
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.help import HelpScreen
from tui.screens.limits import LimitsScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
TYPED_SECRET = "sk-test-typed-in-the-form-9Zx1"


@pytest.fixture
def sample_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixed_ids: None) -> ByokApp:
    monkeypatch.chdir(tmp_path)
    facade = IntegrationsFacade(tmp_path / "byok.json", clock=fixed_clock, durable=False)
    return ByokApp(
        facade,
        clock=fixed_clock,
        probe_interval_s=None,
        refresh_interval_s=None,
        cursor_blink=False,
        theme="textual-dark",
    )


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


def _opened_by(key: str, screen_type: type):
    """A run_before: the sample, then `key`, until it opened a `screen_type`."""

    async def run_before(pilot):
        await _load_sample(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen_type))
        await _settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_home(snap_compare, sample_app, size):
    async def run_before(pilot):
        await _load_sample(pilot)
        await pilot.press("j", "j")
        await _settle(pilot)

    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_home_empty_onboarding(snap_compare, sample_app, size):
    async def run_before(pilot):
        await _load_sample(pilot, sample=False)
        await _settle(pilot)

    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_home_filtered_and_sorted(snap_compare, sample_app, size):
    async def run_before(pilot):
        await _load_sample(pilot)
        await pilot.press("s", "s", "s", "s")  # by health, worst first
        await pilot.press("slash", *"e")
        await _settle(pilot)

    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_home_ansi_theme(snap_compare, sample_app, size):
    async def run_before(pilot):
        pilot.app.theme = "ansi-dark"
        await _load_sample(pilot)
        await _settle(pilot)

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
def test_limits(snap_compare, sample_app, size):
    run_before = _opened_by("L", LimitsScreen)
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_health_log(snap_compare, sample_app, size):
    run_before = _opened_by("H", HealthLogScreen)
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


@pytest.mark.parametrize("size", SIZES)
def test_edit_form(snap_compare, sample_app, size):
    run_before = _opened_by("e", FormScreen)
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_delete_confirm(snap_compare, sample_app, size):
    run_before = _opened_by("d", ConfirmScreen)
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, sample_app, size):
    run_before = _opened_by("question_mark", HelpScreen)
    assert snap_compare(sample_app, terminal_size=size, run_before=run_before)
