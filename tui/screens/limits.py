"""Limits: every integration's three gauges at once, worst first, updating live."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from core.readside import LimitFigures
from tui import format as fmt
from tui.screens.base import TableScreen
from tui.widgets.datatable import MeasuredTable
from tui.widgets.keybar import KeyBar

MAX_ROWS = 500  # worst first, so what matters is on the first screen anyway
TITLE = "Limits this month, worst first"
MIXED_TITLE = "Limits in each one's budget period (UTC), worst first"


def worst(lim: LimitFigures) -> float:
    pairs = (
        (lim.budget_percent, lim.budget_limit_cents),
        (lim.token_percent, lim.token_limit_month),
        (lim.rate_percent, lim.rate_limit_rpm),
    )
    return max((pct for pct, limit in pairs if limit), default=0.0)


def gauge_cell(pct: float, limit: int, look: fmt.Look, width: int = 10) -> Text:
    if not limit:
        return Text("unlimited")  # plain: faint text is illegible on the cursor row
    text = Text(fmt.bar(pct, limit, width), style=look(fmt.level_style(pct, limit)))
    text.append(f" {fmt.percent(pct, limit):>5}")
    if pct >= 100:
        text.append("!", style=look("over"))
    return text


def _period_note(lim: LimitFigures) -> str:
    return "" if lim.budget_period == "month" else f" · {fmt.this_period(lim.budget_period)}"


class LimitsScreen(TableScreen):
    TABLE = "#limits-table"
    BOX = "#limits-search"
    AUTO_FOCUS = "#limits-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q", "back", "Back", id="limits.back", tooltip="Clear the search, else back"
        ),
        Binding("j", "cursor(1)", "Down", show=False, id="limits.down", tooltip="Move down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="limits.up", tooltip="Move up"),
        Binding("enter", "open", "Detail", id="limits.detail", tooltip="Open the detail"),
        Binding("slash", "box", "Search", id="limits.search", tooltip="Search by name"),
        Binding("n", "match(1)", "Next", show=False, id="limits.next", tooltip="Next match"),
        Binding("N", "match(-1)", "Prev", show=False, id="limits.prev", tooltip="Previous match"),
        Binding("r", "refresh", "Refresh", id="limits.refresh", tooltip="Reload now"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc, q | limits.back | Clear the search, else back |
    | j | limits.down | Move down |
    | k | limits.up | Move up |
    | enter | limits.detail | Open the detail |
    | / | limits.search | Search by name |
    | n | limits.next | Next match |
    | N | limits.prev | Previous match |
    | r | limits.refresh | Reload now |
    """

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []  # of the rows, in order

    def compose(self) -> ComposeResult:
        yield Static(TITLE, id="limits-title")
        yield Input(
            placeholder="search names (enter: to the rows; n N: next, previous)", id="limits-search"
        )
        table: DataTable[Any] = MeasuredTable(id="limits-table", cursor_type="row")
        table.add_column("Name", key="name")
        table.add_column("Budget", key="budget")
        table.add_column("Tokens", key="tokens")
        table.add_column("RPM", key="rpm")
        table.add_column("Used", key="used")
        yield table
        yield Static("", id="limits-status")
        yield KeyBar()

    async def load(self) -> None:
        data = self.app.data
        listing = await data.listing()
        limited = [
            s
            for s in listing.items
            if s.budget_limit_cents or s.token_limit_month or s.rate_limit_rpm
        ]
        status = self.query_one("#limits-status", Static)
        limits = await data.limits(s.id for s in limited)
        names = {s.id: s.name for s in limited}
        rows = sorted(
            ((names[iid], lim) for iid, lim in limits.items() if lim is not None),
            key=lambda pair: (-worst(pair[1]), pair[0].casefold()),
        )
        table = self.query_one("#limits-table", DataTable)
        keep = None
        if table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        self.names = [name for name, _ in rows[:MAX_ROWS]]
        for name, lim in rows[:MAX_ROWS]:
            table.add_row(
                fmt.cell(name),
                gauge_cell(lim.budget_percent, lim.budget_limit_cents, self.look),
                gauge_cell(lim.token_percent, lim.token_limit_month, self.look),
                gauge_cell(lim.rate_percent, lim.rate_limit_rpm, self.look),
                f"{fmt.dollars(lim.budget_used_cents)} · {fmt.count(lim.tokens_used_month)} tok"
                f" · {lim.requests_this_minute}/min{_period_note(lim)}",
                key=lim.integration_id,
            )
        for index, (_, lim) in enumerate(rows[:MAX_ROWS]):
            if lim.integration_id == keep:
                table.move_cursor(row=index, animate=False)
                break
        kinds = {lim.budget_period for _, lim in rows} or {"month"}
        one = len(kinds) == 1
        title = f"Limits {fmt.this_period(kinds.pop())}, worst first" if one else MIXED_TITLE
        self.query_one("#limits-title", Static).update(title)
        over = sum(1 for _, lim in rows if worst(lim) >= 100)
        high = sum(1 for _, lim in rows if 80 <= worst(lim) < 100)
        unlimited = listing.total - len(limited)
        text = (
            f"{len(rows):,} with limits · {over} over (!) · {high} at 80% or more"
            f" · {unlimited:,} unlimited"
        )
        if len(rows) > MAX_ROWS:
            text += f" · showing the worst {MAX_ROWS}"
        if not rows:
            text = (
                "No integration has a limit. Set a budget, a token limit or an RPM limit"
                " with e (edit) on the list."
            )
        status.update(text)

    def on_mount(self) -> None:
        box = self.query_one("#limits-search", Input)
        box.display = False
        box.cursor_blink = self.app.cursor_blink

    # -- search ---------------------------------------------------------------------------------

    @property
    def needle(self) -> str:
        return self.query_one("#limits-search", Input).value.strip().casefold()

    def matches(self) -> list[int]:
        needle = self.needle
        if not needle:
            return []
        return [i for i, name in enumerate(self.names) if needle in name.casefold()]

    @on(Input.Changed, "#limits-search")
    def _search_changed(self) -> None:
        found = self.matches()
        if found:
            self._move_to(found[0])
        self._show_search()

    @on(Input.Submitted, "#limits-search")
    def _search_submitted(self) -> None:
        self.query_one("#limits-table", DataTable).focus()

    def action_match(self, step: int) -> None:
        """The next (1) or previous (-1) match from the cursor, wrapping round."""
        found = self.matches()
        if found:
            row = self.query_one("#limits-table", DataTable).cursor_row
            ahead = [i for i in found if (i - row) * step > 0] or found  # none ahead: wrap round
            self._move_to(ahead[0] if step > 0 else ahead[-1])
        self._show_search()

    def _move_to(self, row: int) -> None:
        self.query_one("#limits-table", DataTable).move_cursor(row=row, animate=False)

    def _show_search(self) -> None:
        needle, found = self.needle, self.matches()
        title = Text(TITLE)
        if needle:
            row = self.query_one("#limits-table", DataTable).cursor_row
            at = f"{found.index(row) + 1} of {len(found)}" if row in found else f"{len(found)}"
            title.append(f"  ·  /{needle}: " + (f"match {at} (n N)" if found else "no match"))
        self.query_one("#limits-title", Static).update(title)

    def action_open(self) -> None:
        table = self.query_one("#limits-table", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.app.open_detail(str(key))

    @on(DataTable.RowSelected, "#limits-table")
    def _selected(self) -> None:
        self.action_open()
