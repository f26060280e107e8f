"""The command line (`:`): one line at the bottom, over the screen it was opened on, as in k9s.

Typing shows the completions below the line; Tab (or →) takes the first; Enter runs the line
(the app runs it, tui/command_mode.py); Escape closes it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.suggester import Suggester
from textual.widgets import Input, Label, Static

from tui.command_mode import completions, describe
from tui.screens.base import ByokModal


class CommandSuggester(Suggester):
    """The first completion, shown after the cursor (Tab or → takes it)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        found = completions(value)
        return found[0] if found and found[0] != value else None


class CommandScreen(ByokModal[str | None]):
    """Dismisses with the line typed (Enter), or None (Escape)."""

    DEFAULT_CSS = """
    CommandScreen { background: transparent; align: left bottom; }
    #command-box { dock: bottom; height: 2; background: $panel; }
    #command-line { height: 1; }
    #command-prompt { width: 2; padding: 0 0 0 1; text-style: bold; }
    #command-input { border: none; height: 1; padding: 0; width: 1fr; background: $panel; }
    #command-input:focus { border: none; }
    #command-hint { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Cancel", id="command.cancel", tooltip="Close the command line"),
        Binding(
            "tab", "complete", "Complete", id="command.complete", tooltip="Take the completion"
        ),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc | command.cancel | Close the command line |
    | tab | command.complete | Take the completion |
    """

    def __init__(self) -> None:
        super().__init__(id="command")

    def compose(self) -> ComposeResult:
        with Vertical(id="command-box"):
            with Horizontal(id="command-line"):
                yield Label(":", id="command-prompt")
                yield Input(id="command-input", suggester=CommandSuggester())
            yield Static(Text(describe("")), id="command-hint")

    def on_mount(self) -> None:
        box = self.query_one("#command-input", Input)
        box.cursor_blink = self.app.cursor_blink
        box.focus()

    @on(Input.Changed, "#command-input")
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#command-hint", Static).update(Text(describe(event.value)))

    @on(Input.Submitted, "#command-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_complete(self) -> None:
        box = self.query_one("#command-input", Input)
        found = completions(box.value)
        if found:
            box.value = found[0] + " " if found[0] == box.value else found[0]
            box.cursor_position = len(box.value)

    def action_back(self) -> None:
        self.dismiss(None)
