"""Every key, generated from the bindings themselves so that the list cannot drift."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.commands import key_label
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.home import HomeScreen
from tui.screens.limits import LimitsScreen
from tui.widgets.rowtable import RowTable

SECTIONS: tuple[tuple[str, type[DOMNode]], ...] = (
    ("Integrations (home)", HomeScreen),
    ("Integrations table", RowTable),
    ("Detail", DetailScreen),
    ("Limits", LimitsScreen),
    ("Health log", HealthLogScreen),
    ("Form", FormScreen),
    ("Confirm", ConfirmScreen),
)


def binding_rows(bindings: list[BindingType]) -> list[tuple[str, str, str]]:
    rows = []
    for b in bindings:
        if isinstance(b, Binding):
            rows.append((key_label(b.key), b.tooltip or b.description, b.id or ""))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close", tooltip="Close help"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="help.down", tooltip="Scroll"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="help.up", tooltip="Scroll"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(self._render_keys(), id="help-text")

    def _render_keys(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("does")
        table.add_column("binding id", style="dim", no_wrap=True)
        table.add_row("[b]Everywhere[/b]", "", "")
        for row in binding_rows(list(self.app.BINDINGS)):
            table.add_row(*row)
        table.add_row("ctrl+p", "Command palette: every action by name", "command_palette")
        table.add_row("↑ ↓ pgup pgdn", "Move (as j / k)", "")
        for title, screen in SECTIONS:
            table.add_row("", "", "")
            table.add_row(f"[b]{title}[/b]", "", "")
            for row in binding_rows(list(screen.BINDINGS)):
                table.add_row(*row)
        return table

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, delta: int) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        box.scroll_relative(y=delta, animate=False)
