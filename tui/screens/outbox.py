"""Outbox: the watcher (`byok watch`) of this database, and each alert's delivery per channel:
pending, delivered or dead, its attempts and the channel's last error, shown literally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from core.timeutil import from_us, to_us
from tui import format as fmt
from tui.screens.base import DataScreen
from tui.widgets.datatable import MeasuredTable
from tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from datetime import datetime

    from core.watch.status import OutboxItem, WatcherStatus

ITEMS = 1000
STATE_STYLE = {"pending": "warn", "delivered": "healthy", "dead": "over"}


def watcher_line(found: WatcherStatus | None, now: datetime) -> str:
    """Whether a watcher runs, in words."""
    if found is None:
        return "No watcher has run on this database: `byok watch` runs one (docs/watch.md)."
    lease = found.lease
    if lease is None:
        return "No watcher is running (the last one stopped and released its lease)."
    since = from_us(lease.since_us)
    renewed = fmt.ago(from_us(lease.renewed_us), now)
    where = f"pid {lease.pid} on {lease.host}"
    if found.stale:
        return f"No watcher is running: {where} died (stale lease, last renewed {renewed})."
    return f"Watcher: {where} since {since:%Y-%m-%d %H:%M} UTC, renewed {renewed}."


class OutboxScreen(DataScreen):
    AUTO_FOCUS = "#outbox-table"  # its look: app.tcss, with the health log's
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="outbox.back", tooltip="Back one screen"),
        Binding("j", "cursor(1)", "Down", show=False, id="outbox.down", tooltip="Move down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="outbox.up", tooltip="Move up"),
        Binding("r", "refresh", "Refresh", id="outbox.refresh", tooltip="Reload now"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc, q | outbox.back | Back one screen |
    | j | outbox.down | Move down |
    | k | outbox.up | Move up |
    | r | outbox.refresh | Reload now |
    """

    def __init__(self) -> None:
        super().__init__()
        self.found: WatcherStatus | None = None
        self.items: list[OutboxItem] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="outbox-watcher")
        table: DataTable[Any] = MeasuredTable(id="outbox-table", cursor_type="row")
        for key, label in (
            ("when", "Created"),
            ("channel", "Channel"),
            ("state", "State"),
            ("tries", "Tries"),
            ("kind", "Kind"),
            ("title", "Alert"),
            ("error", "Last error"),
        ):
            table.add_column(label, key=key)
        yield table
        yield Static("", id="outbox-item")  # the highlighted item's alert and error, in full
        yield Static("", id="outbox-status")
        yield KeyBar()

    async def load(self) -> None:
        now = self.app.now()
        self.found = await self.app.data.watcher(to_us(now), items=ITEMS)
        self.items = self.found.outbox if self.found is not None else []
        self.query_one("#outbox-watcher", Static).update(fmt.safe(watcher_line(self.found, now)))
        table = self.query_one("#outbox-table", DataTable)
        row = table.cursor_row
        table.clear()
        for item in self.items:
            cells = (
                fmt.ago(item.created_at, now),
                Text(item.channel),
                Text(item.state, style=self.look(STATE_STYLE.get(item.state, ""))),
                Text(str(item.attempts), justify="right"),
                Text(item.kind),
                Text(item.title),
                Text(item.last_error or ""),
            )
            table.add_row(*map(fmt.cell, cells))
        if self.items:
            table.move_cursor(row=min(max(row, 0), len(self.items) - 1))
        self._show_item(table.cursor_row)
        depth = self.found.depth if self.found is not None else {}
        bits = [f"{depth.get(s, 0):,} {s}" for s in ("pending", "delivered", "dead")]
        total = sum(depth.values())
        if total > len(self.items):
            bits.append(f"the newest {len(self.items):,} shown")
        if not total:
            bits = ["No alert in the outbox."]
        self.query_one("#outbox-status", Static).update(fmt.safe("  ·  ".join(bits)))

    @on(DataTable.RowHighlighted, "#outbox-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_item(event.cursor_row)

    def _show_item(self, row: int) -> None:
        box = self.query_one("#outbox-item", Static)
        if not 0 <= row < len(self.items):
            box.update("")
            return
        item = self.items[row]
        text = Text(f"{item.channel}: ", style="bold")
        text.append(item.title)
        if item.next_at is not None:
            text.append(f" · next attempt {item.next_at:%H:%M:%S} UTC")
        if item.delivered_at is not None:
            text.append(f" · delivered {item.delivered_at:%Y-%m-%d %H:%M:%S} UTC")
        if item.last_error:
            text.append("\nlast error: ")
            text.append(item.last_error)  # the channel's words, literally
        box.update(fmt.safe(text))

    def action_back(self) -> None:
        self.dismiss(None)

    def action_cursor(self, delta: int) -> None:
        table = self.query_one("#outbox-table", DataTable)
        table.action_cursor_down() if delta > 0 else table.action_cursor_up()
