"""Shown over everything while the terminal is smaller than the console can be read in."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widgets import Static

MIN_SIZE = Size(60, 16)  # below this the table, its panel and the keys no longer fit


def too_small(size: Size) -> bool:
    return size.width < MIN_SIZE.width or size.height < MIN_SIZE.height


class TooSmallScreen(ModalScreen[None]):
    """Says how small the terminal is and how big it must be; goes once it is (the app
    dismisses it on resize). `q` still quits."""

    def compose(self) -> ComposeResult:
        yield Static("", id="too-small")

    def on_mount(self) -> None:
        self.show(self.app.size)

    def show(self, size: Size) -> None:
        self.query_one("#too-small", Static).update(
            f"Terminal too small: {size.width}x{size.height}.\n"
            f"byok needs at least {MIN_SIZE.width}x{MIN_SIZE.height}:"
            " make the window larger, or press q to quit."
        )
