"""The bases of the console's screens: `self.app` typed as the ByokApp, and the shared shapes.

The typed `app` is Textual's own `getters.app`, declared for the type checker only (as Textual
declares its `App` one): at run time nothing here imports tui.app, which imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich.style import Style
from textual import work
from textual.screen import ModalScreen, Screen
from textual.theme import Theme

from tui.format import STYLE_NAMES

if TYPE_CHECKING:
    from textual import getters

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


class IntegrationScreen(DataScreen):
    """A screen about one integration at a time (the list's highlighted one, the detail's):
    the keys that act on it, each done by the app."""

    def target(self) -> tuple[str, str] | None:
        """The (id, name) of the integration the keys act on, or None."""
        raise NotImplementedError

    def action_edit(self) -> None:
        if (target := self.target()) is not None:
            self.app.edit_integration(target[0])

    def action_delete(self) -> None:
        if (target := self.target()) is not None:
            self.app.delete_integration(*target)

    def action_toggle_enabled(self) -> None:  # not `toggle`: DOMNode has that action
        if (target := self.target()) is not None:
            self.app.toggle_integration(target[0])

    def action_test(self) -> None:
        if (target := self.target()) is not None:
            self.app.test_one(target[0])
