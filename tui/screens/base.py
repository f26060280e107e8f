"""The bases of the console's screens: `self.app` typed as the ByokApp, and the shared shapes.

The typed `app` is Textual's own `getters.app`, declared for the type checker only (as Textual
declares its `App` one): at run time nothing here imports tui.app, which imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual import work
from textual.screen import ModalScreen, Screen

if TYPE_CHECKING:
    from textual import getters

    from tui.app import ByokApp

ResultT = TypeVar("ResultT")


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

    def on_mount(self) -> None:
        # Textual runs the on_mount of every class of the screen, the subclass's first: a
        # subclass's on_mount adds to this one; `first_load` is what a subclass changes.
        self.first_load()

    def first_load(self) -> None:
        self.reload()

    def refresh_data(self) -> None:
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
