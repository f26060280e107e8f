"""What the console leaves out of its first paint, and that it still comes: the styles of the
other screens (tui/screens.tcss) after the first paint or as soon as one of them shows, the
garbage collector paused while it starts and on again after, the scrollbars' greys as theme
variables. (How long the start takes is measured by bench/console.py, not here.)"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from support.console import open_screen, wait_for
from textual.color import Color

from core import IntegrationsFacade
from tui.app import SCREENS_CSS, ByokApp
from tui.screens.help import HelpScreen


async def _database(db_path: Path) -> None:
    facade = IntegrationsFacade(db_path, durable=False)
    await facade.create_integration("t1", name="one", provider_type="ollama")
    await facade.aclose()


class NoDeferredWork(ByokApp):
    """Paints the list, then skips what the first paint leaves for later."""

    painted: list[tuple[bool, bool]]

    def home_painted(self) -> None:
        self.painted = [(self.stylesheet.has_source(str(SCREENS_CSS), ""), gc.isenabled())]


def _has_screen_styles(app: ByokApp) -> bool:
    return app.stylesheet.has_source(str(SCREENS_CSS), "")


async def test_the_first_paint_goes_without_the_other_screens_styles_then_reads_them(
    db_path: Path,
) -> None:
    await _database(db_path)
    seen: list[bool] = []

    class Watch(ByokApp):
        def home_painted(self) -> None:
            seen.append(_has_screen_styles(self))
            super().home_painted()

    app = Watch(db_path=db_path, tenant_id="t1", probe_interval_s=None, refresh_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(seen))
        assert seen == [False]
        assert _has_screen_styles(app)
        help_screen = await open_screen(pilot, "question_mark", HelpScreen)
        box = help_screen.query_one("#help-box")
        await wait_for(pilot, lambda: box.outer_size.width == 100)  # screens.tcss: width 100


async def test_a_screen_or_a_toast_before_the_deferred_styles_reads_them_first(
    db_path: Path,
) -> None:
    await _database(db_path)
    app = NoDeferredWork(
        db_path=db_path, tenant_id="t1", probe_interval_s=None, refresh_interval_s=None
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(getattr(app, "painted", None)))
        assert not _has_screen_styles(app)
        help_screen = await open_screen(pilot, "question_mark", HelpScreen)
        assert _has_screen_styles(app)
        box = help_screen.query_one("#help-box")
        await wait_for(pilot, lambda: box.outer_size.width == 100)  # screens.tcss: width 100

    app = NoDeferredWork(
        db_path=db_path, tenant_id="t1", probe_interval_s=None, refresh_interval_s=None
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(getattr(app, "painted", None)))
        app.notify("a toast before the deferred styles")
        assert _has_screen_styles(app)


async def test_the_collector_is_paused_while_the_console_starts_and_on_after(
    db_path: Path,
) -> None:
    await _database(db_path)
    assert gc.isenabled()
    seen: list[bool] = []

    class Watch(ByokApp):
        def home_painted(self) -> None:
            seen.append(gc.isenabled())
            super().home_painted()

    app = Watch(db_path=db_path, tenant_id="t1", probe_interval_s=None, refresh_interval_s=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.facade is not None and gc.isenabled())
        assert seen == [False]
        assert gc.get_freeze_count() > 0  # what the start built, frozen once it was done
    assert gc.isenabled()


async def test_the_collector_is_on_again_when_the_first_paint_never_comes(
    db_path: Path,
) -> None:
    """A console closed before its deferred work (or whose list never paints) does not leave
    the collector off."""
    await _database(db_path)
    app = NoDeferredWork(
        db_path=db_path, tenant_id="t1", probe_interval_s=None, refresh_interval_s=None
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(getattr(app, "painted", None)))
        assert app.painted == [(False, False)]
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("theme", "no_color"), [("textual-dark", False), ("textual-light", False), (None, True)]
)
async def test_the_scrollbars_are_in_the_legible_greys_of_the_theme(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, theme: str | None, no_color: bool
) -> None:
    await _database(db_path)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    app = ByokApp(
        db_path=db_path, tenant_id="t1", probe_interval_s=None, refresh_interval_s=None,
        theme=theme,
    )  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.home() is not None and app.home().loaded)
        table = app.home().table
        variables = app.get_css_variables()
        if no_color:
            assert app.current_theme.ansi
            assert table.styles.scrollbar_color == Color.parse("ansi_bright_black")
            assert table.styles.scrollbar_background == Color.parse("ansi_default")
        else:
            grey = "foreground-darken-3" if app.current_theme.dark else "foreground-lighten-3"
            assert table.styles.scrollbar_color == Color.parse(variables[grey])
            assert table.styles.scrollbar_background == Color.parse(variables["surface"])
