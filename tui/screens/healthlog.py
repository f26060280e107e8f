"""Health log: every probe, newest first, filterable by integration and by state."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from tui import format as fmt
from tui.screens.detail import entry_field
from tui.widgets.keybar import KeyBar

STATES = ("all", "healthy", "degraded", "failing", "unknown")
LOG_LIMIT = 1000


class HealthLogScreen(Screen[None]):
    AUTO_FOCUS = "#log-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="log.back", tooltip="Clear the filter, then go back"),
        Binding("slash", "filter", "Filter", id="log.filter", tooltip="Filter by integration"),
        Binding("f", "state", "State", id="log.state", tooltip="Cycle the state filter"),
        Binding("j", "cursor(1)", "Down", show=False, id="log.down", tooltip="Move down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="log.up", tooltip="Move up"),
        Binding("r", "refresh", "Refresh", id="log.refresh", tooltip="Reload now"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state_index = 0
        self.entries: list[Any] = []
        self.names: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("Health log, newest first", id="log-title")
        yield Input(placeholder="integration name contains… (esc clears)", id="log-filter")
        table: DataTable[Any] = DataTable(id="log-table", cursor_type="row")
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
        yield Static("", id="log-status")
        yield KeyBar()

    def on_mount(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.display = False
        box.cursor_blink = self.app.cursor_blink  # type: ignore[attr-defined]
        self.reload()

    def refresh_data(self) -> None:
        self.reload()

    @work(exclusive=True, group="log-load", exit_on_error=False)
    async def reload(self) -> None:
        data = self.app.data  # type: ignore[attr-defined]
        listing = await data.listing()
        self.names = {s.id: s.name for s in listing.items}
        self.entries = await data.health_log(None, limit=LOG_LIMIT)
        self._show_rows()

    def _show_rows(self) -> None:
        needle = self.query_one("#log-filter", Input).value.strip().casefold()
        state = STATES[self.state_index]
        now = self.app.now()  # type: ignore[attr-defined]
        table = self.query_one("#log-table", DataTable)
        table.clear()
        shown = 0
        for entry in self.entries:
            iid = entry_field(entry, "integration_id")
            name = (
                self.names.get(iid) or entry_field(entry, "integration_name") or f"{iid} (deleted)"
            )
            health = fmt.value(entry_field(entry, "health_state"))
            if needle and needle not in name.casefold():
                continue
            if state != "all" and health != state:
                continue
            shown += 1
            table.add_row(
                fmt.ago(entry_field(entry, "checked_at"), now),
                name,
                fmt.health_text(health),
                fmt.latency(entry_field(entry, "latency_ms")),
                entry_field(entry, "reason") or "",
                entry_field(entry, "message") or "",
            )
        bits = [f"{shown:,} of {len(self.entries):,} probes", f"state: {state} (f)"]
        if needle:
            bits.append(f"integration: {needle!r}")
        if not self.entries:
            bits = ["No probe yet: press t on the list to test one, T to test all."]
        self.query_one("#log-status", Static).update("  ·  ".join(bits))

    def action_filter(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#log-filter")
    def _changed(self) -> None:
        self._show_rows()

    @on(Input.Submitted, "#log-filter")
    def _submitted(self) -> None:
        self.query_one("#log-table", DataTable).focus()

    def action_state(self) -> None:
        self.state_index = (self.state_index + 1) % len(STATES)
        self._show_rows()

    def action_back(self) -> None:
        box = self.query_one("#log-filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            self.query_one("#log-table", DataTable).focus()
            return
        self.dismiss(None)

    def action_cursor(self, delta: int) -> None:
        table = self.query_one("#log-table", DataTable)
        table.action_cursor_down() if delta > 0 else table.action_cursor_up()

    def action_refresh(self) -> None:
        self.reload()
