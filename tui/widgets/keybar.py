"""KeyBar: the key hints of the focused screen on one line, like Textual's Footer.

Why not Footer: it mounts one widget per key and recomposes them all whenever focus or bindings
change, which twice cost ~40 ms of the console's ~430 ms start-up. Here the hints are one line
of text, rebuilt when the screen's bindings change. A click on a hint presses its key.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

NORMAL, DIM = Style(), Style(dim=True)


class KeyBar(Widget):
    """Shown bindings of the focused widget and its ancestors, then the command palette key at
    the right edge. Disabled bindings are dimmed. Styles: the component classes below."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key", "keybar--description"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._spans: list[tuple[int, int, str]] = []  # (start, end, key) of each hint

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    def _hints(self) -> tuple[list[tuple[str, str, str, bool]], tuple[str, str, str] | None]:
        """(key, key shown, description, enabled) per action, in binding order; the palette."""
        hints: list[tuple[str, str, str, bool]] = []
        seen: set[str] = set()
        palette: tuple[str, str, str] | None = None
        app = self.app
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = (binding.key, app.get_key_display(binding), binding.description)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            hints.append(
                (binding.key, app.get_key_display(binding), binding.description, active.enabled)
            )
        return hints, palette

    def render(self) -> Text:
        width = self.size.width
        key_style = self.get_component_rich_style("keybar--key")
        description_style = self.get_component_rich_style("keybar--description")
        hints, palette = self._hints()
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, str]] = []
        for key, shown, description, enabled in hints:
            start = line.cell_len
            off = NORMAL if enabled else DIM
            line.append(f" {shown} ", key_style + off)
            line.append(f"{description} ", description_style + off)
            spans.append((start, line.cell_len, key))
        if palette is not None:
            key, shown, description = palette
            right = Text.assemble("▏", (f"{shown}", key_style), f" {description} ")
            room = max(0, width - right.cell_len)
            line.truncate(room, overflow="crop", pad=True)
            spans = [(a, min(b, room), k) for a, b, k in spans if a < room]
            spans.append((room, room + cell_len(right.plain), key))
            line.append_text(right)
        self._spans = spans
        return line

    def _on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
