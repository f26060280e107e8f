"""Every key, generated from the bindings themselves so that the list cannot drift; type to
filter it. The keys shown are the keys in force (a keymap file's, if one remapped them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.widgets import Input, Static

from tui.commands import key_label
from tui.screens.base import ByokModal
from tui.screens.command import CommandScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.home import HomeScreen
from tui.screens.limits import LimitsScreen
from tui.screens.notifications import NotificationsScreen
from tui.screens.outbox import OutboxScreen
from tui.screens.spend import SpendScreen
from tui.widgets.keybar import KeyBar
from tui.widgets.rowtable import RowTable

RULE = (
    "Escape and q: back one screen, on every screen; where something is typed or chosen (a "
    "filter, a search) they clear it first. On the list, Escape clears the filter, then the "
    "marks, and q quits; ctrl+q quits from anywhere. In a text field q is a letter and Enter "
    "leaves the field; a form closes with Escape only."
)
Row = tuple[str, str, str]  # key, what it does, binding id


class HelpScreen(ByokModal[None]):
    AUTO_FOCUS = "#help-filter"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "back", "Close", id="help.close", tooltip="Close help"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="help.down", tooltip="Scroll"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="help.up", tooltip="Scroll"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc, ?, q | help.close | Close help |
    | j, down | help.down | Scroll |
    | k, up | help.up | Scroll |
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Input(
                placeholder="type to filter the keys (esc clears, then closes)", id="help-filter"
            )
            yield Static(self._render_keys(""), id="help-text")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#help-filter", Input).cursor_blink = self.app.cursor_blink

    @on(Input.Changed, "#help-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.query_one("#help-text", Static).update(self._render_keys(event.value))

    @on(Input.Submitted, "#help-filter")
    def _submitted(self) -> None:
        self.query_one("#help-box", VerticalScroll).focus()

    def _render_keys(self, needle: str) -> Table | Text:
        keymap = self.app.key_overrides
        found = needle.strip().casefold()
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("does")
        table.add_column("binding id", style="dim", no_wrap=True)
        everywhere = [
            *binding_rows(self.app.BINDINGS, keymap),
            ("ctrl+p", "Command palette: every action by name", "command_palette"),
            ("ctrl+q", "Quit from anywhere", ""),
            ("↑ ↓ pgup pgdn", "Move (as j / k)", ""),
        ]
        self.shown: list[Row] = []  # the rows on screen
        for title, rows in (("Everywhere", everywhere), *screen_rows(keymap)):
            rows = [r for r in rows if not found or found in " ".join((title, *r)).casefold()]
            if not rows:
                continue
            if self.shown:
                table.add_row("", "", "")
            table.add_row(Text(title, style="bold"), "", "")
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))
            self.shown += rows
        if found and not self.shown:
            return Text(f"No key matches {needle.strip()!r}.")
        if not found:
            table.add_row("", "", "")
            table.add_row("", Text(RULE), "")
        return table

    def action_back(self) -> None:
        box = self.query_one("#help-filter", Input)
        if box.value:
            box.value = ""
            box.focus()
            return
        self.dismiss(None)

    def action_scroll(self, delta: int) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        box.scroll_relative(y=delta, animate=False)


SECTIONS: tuple[tuple[str, type[DOMNode]], ...] = (
    ("Integrations (home)", HomeScreen),
    ("Integrations table", RowTable),
    ("Detail", DetailScreen),
    ("Limits", LimitsScreen),
    ("Health log", HealthLogScreen),
    ("Spend", SpendScreen),
    ("Notifications", NotificationsScreen),
    ("Outbox", OutboxScreen),
    ("Command line (:)", CommandScreen),
    ("Form", FormScreen),
    ("Confirm", ConfirmScreen),
    ("Help", HelpScreen),
)


def binding_rows(bindings: Iterable[BindingType], keymap: Mapping[str, str]) -> list[Row]:
    rows = []
    for b in bindings:
        if isinstance(b, Binding):
            key = keymap.get(b.id, b.key) if b.id else b.key
            rows.append((key_label(key), b.tooltip or b.description, b.id or ""))
    return rows


def screen_rows(keymap: Mapping[str, str]) -> list[tuple[str, list[Row]]]:
    return [(title, binding_rows(node.BINDINGS, keymap)) for title, node in SECTIONS]
