"""Health log: every probe, newest first, filterable by integration and by state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from core.enums import HealthState
from tui import format as fmt
from tui.screens.base import TableScreen
from tui.widgets.datatable import MeasuredTable
from tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from core import HealthLogEntry

STATES: tuple[HealthState | None, ...] = (None, *fmt.HEALTH_ORDER)  # the f cycle; None: all
LOG_LIMIT = 1000


class HealthLogScreen(TableScreen):
    TABLE = "#log-table"
    BOX = "#log-filter"
    AUTO_FOCUS = "#log-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="log.back", tooltip="Clear the filter, else back"),
        Binding("slash", "box", "Filter", id="log.filter", tooltip="Filter by integration"),
        Binding("f", "state", "State", id="log.state", tooltip="Cycle the state filter"),
        Binding("j", "cursor(1)", "Down", show=False, id="log.down", tooltip="Move down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="log.up", tooltip="Move up"),
        Binding("r", "refresh", "Refresh", id="log.refresh", tooltip="Reload now"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc, q | log.back | Clear the filter, else back |
    | / | log.filter | Filter by integration |
    | f | log.state | Cycle the state filter |
    | j | log.down | Move down |
    | k | log.up | Move up |
    | r | log.refresh | Reload now |
    """

    def __init__(self) -> None:
        super().__init__()
        self.state_index = 0
        self.entries: list[HealthLogEntry] = []
        self.names: dict[str, str] = {}
        self.shown: list[tuple[str, HealthLogEntry]] = []  # (name, entry) of each row, in order

    def compose(self) -> ComposeResult:
        yield Static("Health log, newest first", id="log-title")
        yield Input(placeholder="integration name contains… (esc clears)", id="log-filter")
        table: DataTable[Any] = MeasuredTable(id="log-table", cursor_type="row")
        for key, label in (
            ("when", "When"),
            ("name", "Integration"),
            ("health", "Health"),
            ("latency", "Latency"),
            ("reason", "Reason"),
            ("message", "Message"),
        ):
            table.add_column(label, key=key)
        yield table
        yield Static("", id="log-message")  # the highlighted probe's message, in full
        yield Static("", id="log-status")
        yield KeyBar()

    def on_mount(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.display = False
        box.cursor_blink = self.app.cursor_blink

    async def load(self) -> None:
        data = self.app.data
        listing = await data.listing()
        self.names = {s.id: s.name for s in listing.items}
        self.entries = await data.health_log(None, limit=LOG_LIMIT)
        self._show_rows()

    @on(Input.Changed, "#log-filter")
    def _show_rows(self) -> None:
        needle = self.query_one("#log-filter", Input).value.strip().casefold()
        state = STATES[self.state_index]
        now = self.app.now()
        table = self.query_one("#log-table", DataTable)
        table.clear()
        self.shown = []
        for entry in self.entries:
            iid = entry.integration_id
            name = self.names.get(iid) or entry.integration_name or f"{iid} (deleted)"
            if needle and needle not in name.casefold():
                continue
            if state is not None and entry.health_state != state:
                continue
            self.shown.append((name, entry))
            cells = (
                fmt.ago(entry.checked_at, now),
                Text(name),
                fmt.health_text(entry.health_state, self.look),
                fmt.latency(entry.latency_ms),
                Text(entry.reason or ""),
                Text(entry.message or ""),
            )
            table.add_row(*map(fmt.cell, cells))
        shown = len(self.shown)
        self._show_message(table.cursor_row)
        bits = [f"{shown:,} of {len(self.entries):,} probes", f"state: {state or 'all'} (f)"]
        if needle:
            bits.append(f"integration: {needle!r}")
        if not self.entries:
            bits = ["No probe yet: press t on the list to test one, T to test all."]
        self.query_one("#log-status", Static).update(fmt.safe("  ·  ".join(bits)))

    @on(DataTable.RowHighlighted, "#log-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_message(event.cursor_row)

    def _show_message(self, row: int) -> None:
        """The whole message of the probe on `row`, wrapped: the table's column cuts it."""
        box = self.query_one("#log-message", Static)
        if not 0 <= row < len(self.shown):
            box.update("")
            return
        name, entry = self.shown[row]
        text = Text(f"{name}: ", style="bold")
        text.append(f"{entry.reason or '–'} · {entry.message or 'no message'}")
        box.update(fmt.safe(text))

    @on(Input.Submitted, "#log-filter")
    def _submitted(self) -> None:
        self.query_one("#log-table", DataTable).focus()

    def action_state(self) -> None:
        self.state_index = (self.state_index + 1) % len(STATES)
        self._show_rows()
