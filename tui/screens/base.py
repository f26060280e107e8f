"""The bases of the console's screens: `self.app` typed as the ByokApp, and the shared shapes.

The typed `app` is Textual's own `getters.app`, declared for the type checker only (as Textual
declares its `App` one): at run time nothing here imports tui.app, which imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rich.style import Style
from textual import work
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.widgets import Input

from tui.format import STYLE_NAMES

if TYPE_CHECKING:
    from textual import getters
    from textual.widgets import DataTable

    from tui.app import ByokApp

ResultT = TypeVar("ResultT")
NO_STYLE = Style()


class ByokModal(ModalScreen[ResultT]):
    """A modal of the console (form, confirmation, help)."""

    if TYPE_CHECKING:
        app = getters.app(ByokApp)


class DataScreen(Screen[None]):
    """A full screen of the core's data. `reload` (a worker: a newer load cancels an older) runs
    `load`, which reads and renders; it runs on mount, on `r`, and when the database changed
    (the app's live refresh calls `refresh_data`)."""

    if TYPE_CHECKING:
        app = getters.app(ByokApp)

    # The looks of the states the screens write (tui.format's style names), set in app.tcss.
    COMPONENT_CLASSES: ClassVar[set[str]] = {f"state--{name}" for name in STYLE_NAMES}

    def on_mount(self) -> None:
        # Textual runs the on_mount of every class of the screen, the subclass's first: a
        # subclass's on_mount adds to this one; `first_load` is what a subclass changes.
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.first_load()

    def _theme_changed(self, theme: Theme) -> None:
        self.refresh_data()  # the cells hold the old theme's styles

    def look(self, name: str) -> Style:
        """The Rich style of a state's style name (tui.format), from app.tcss; "" is none.
        Partial, so that a row's zebra or cursor shows through where the state sets nothing."""
        if not name:
            return NO_STYLE
        return self.get_component_rich_style(f"state--{name}", partial=True)

    def first_load(self) -> None:
        self.reload()

    def refresh_data(self) -> None:
        self.reload()

    def tick(self) -> None:
        """Time passed with nothing changed on disk: repaint what depends on time (ages, the
        rolling minute). A reload, unless a screen has a cheaper way."""
        self.reload()

    def action_refresh(self) -> None:
        self.reload()

    @work(exclusive=True, group="load", exit_on_error=False)
    async def reload(self) -> None:
        await self.load()

    async def load(self) -> None:
        """Read from the core and render; each screen its own."""
        raise NotImplementedError


class TableScreen(DataScreen):
    """A screen of one DataTable (`TABLE`) and a text box (`BOX`: a filter or a search) shown
    on demand. Escape and q clear and hide the box first, then go back one screen."""

    TABLE = ""
    BOX = ""

    def action_box(self) -> None:
        box = self.query_one(self.BOX, Input)
        box.display = True
        box.focus()

    def action_back(self) -> None:
        box = self.query_one(self.BOX, Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            self.table().focus()
            return
        self.dismiss(None)

    def action_cursor(self, delta: int) -> None:
        table = self.table()
        table.action_cursor_down() if delta > 0 else table.action_cursor_up()

    def table(self) -> DataTable[Any]:
        # Imported here: the list, painted first, has no DataTable (~8 ms of start-up).
        from textual.widgets import DataTable

        return self.query_one(self.TABLE, DataTable)


class IntegrationScreen(DataScreen):
    """A screen about one integration at a time (the list's highlighted one, the detail's):
    the keys that act on it, each done by the app (tui/bulk.py: they ask first)."""

    def target(self) -> tuple[str, str] | None:
        """The (id, name) of the integration the keys act on, or None."""
        raise NotImplementedError

    def targets(self) -> list[tuple[str, str]]:
        """What delete, enable, disable and test act on: the target (the list: or its marks)."""
        target = self.target()
        return [] if target is None else [target]

    def action_edit(self) -> None:
        if (target := self.target()) is not None:
            self.app.edit_integration(target[0])

    def action_delete(self) -> None:
        from tui import bulk

        bulk.delete(self.app, self.targets())

    def action_enable(self) -> None:
        from tui import bulk

        bulk.set_enabled(self.app, self.targets(), True)

    def action_disable(self) -> None:
        from tui import bulk

        bulk.set_enabled(self.app, self.targets(), False)

    def action_test(self) -> None:
        from tui import bulk

        targets = self.targets()
        if len(targets) == 1:  # one: at once, with its full result
            self.app.test_one(targets[0][0])
        else:
            bulk.test(self.app, targets)
