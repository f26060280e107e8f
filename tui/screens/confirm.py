"""A yes/no question as a modal: y confirms, n, q or esc cancels. Dismisses with a bool."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui import format as fmt
from tui.widgets.keybar import KeyBar


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm"),
        Binding("n", "answer(False)", "No", id="confirm.no", tooltip="Cancel"),
        Binding("escape,q", "answer(False)", "Cancel", id="confirm.cancel", tooltip="Cancel"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | y | confirm.yes | Confirm |
    | n | confirm.no | Cancel |
    | esc, q | confirm.cancel | Cancel |
    """

    def __init__(self, question: str, detail: str = "", *, yes: str = "Delete") -> None:
        super().__init__(id="confirm")
        self.question = question
        self.detail = detail
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(fmt.safe(self.question), id="confirm-question")
            if self.detail:
                yield Static(fmt.safe(self.detail), id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
