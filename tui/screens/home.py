"""Home: the integrations table, a detail panel that follows the cursor, filter, sort, paging.

The table holds one page (PAGE_SIZE rows) of the sorted, filtered listing, so that a repaint costs
the same at 10 rows and at 10,000 (Textual's DataTable takes ~0.7 s to first paint 10,000 rows).
The listing itself comes from the core in a worker; only rendering happens on the main thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Input, Static

from core.enums import HealthState
from core.readside import LimitFigures, Row

if TYPE_CHECKING:
    from textual.containers import Horizontal
    from textual.widgets import Label, ProgressBar

    from core import IntegrationDetailResult

from tui import format as fmt
from tui.data import Listing
from tui.screens.base import IntegrationScreen
from tui.widgets.keybar import KeyBar
from tui.widgets.rowtable import SORT_MARKS, Column, RowTable

PAGE_SIZE = 100
WIDE = 150  # the detail panel moves beside the table when every column still fits
HEALTH_RANK = {
    HealthState.FAILING: 0,
    HealthState.DEGRADED: 1,
    HealthState.UNKNOWN: 2,
    HealthState.HEALTHY: 3,
}


class Sort(NamedTuple):
    """A sort of the list. `key` gives a row's value, None for none (such rows go last, either
    way); a usage sort needs the limit figures of every matching row, not only the page's."""

    name: str
    column: str | None  # the column whose header shows ▲/▼
    key: Callable[[Row, LimitFigures | None], Any] | None  # None: the core's order
    descending: bool = False
    usage: bool = False


def _percent(
    pick: Callable[[LimitFigures], tuple[float, int]],
) -> Callable[[Row, LimitFigures | None], float | None]:
    def key(_: Row, lim: LimitFigures | None) -> float | None:
        if lim is None:
            return None
        pct, limit = pick(lim)
        return pct if limit else None  # unlimited: no percent

    return key


SORTS: tuple[Sort, ...] = (
    Sort("created", None, None),  # the core's own order: newest first
    Sort("name", "name", lambda s, _: s.name.casefold()),
    Sort("provider", "provider", lambda s, _: (fmt.value(s.provider_type), s.name.casefold())),
    Sort("status", "status", lambda s, _: (fmt.value(s.status), s.name.casefold())),
    Sort("health", "health", lambda s, _: (HEALTH_RANK.get(s.health_state, 9), s.name)),
    Sort("model", "model", lambda s, _: ((s.default_model or "~").casefold(), s.name)),
    Sort(
        "budget", "budget", _percent(lambda m: (m.budget_percent, m.budget_limit_cents)), True, True
    ),
    Sort(
        "tokens", "tokens", _percent(lambda m: (m.token_percent, m.token_limit_month)), True, True
    ),
    Sort("rpm", "rpm", _percent(lambda m: (m.rate_percent, m.rate_limit_rpm)), True, True),
    Sort("latency", "latency", lambda s, _: s.health_latency_ms, True),  # slowest first
    Sort(
        "checked",
        "checked",
        lambda s, _: s.health_checked_at.replace(tzinfo=None) if s.health_checked_at else None,
    ),  # longest ago first; never checked last
)
SORT_INDEX = {sort.name: index for index, sort in enumerate(SORTS)}
COLUMNS = (
    Column("health", "Health"),
    Column("name", "Name", flex=True, min_width=20),
    Column("provider", "Provider", priority=1, max_width=14),
    Column("status", "Status", priority=2),
    Column("model", "Model", priority=3, max_width=28),
    Column("budget", "Budget", "right"),
    Column("tokens", "Tokens", "right"),
    Column("rpm", "RPM", "right"),
    Column("latency", "Latency", "right", priority=4),
    Column("checked", "Checked", priority=5),
)


class HomeScreen(IntegrationScreen):
    """The integrations of one tenant."""

    AUTO_FOCUS = "#table"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="home.down", tooltip="Move down"),
        Binding("k", "cursor_up", "Up", show=False, id="home.up", tooltip="Move up"),
        Binding("g", "top", "Top", show=False, id="home.top", tooltip="Go to the first row"),
        Binding(
            "G", "bottom", "Bottom", show=False, id="home.bottom", tooltip="Go to the last row"
        ),
        Binding("slash", "filter", "Filter", id="home.filter", tooltip="Filter by name/model"),
        Binding(
            "escape",
            "clear",
            "Clear",
            show=False,
            id="home.clear",
            tooltip="Clear the filter, else the marks",
        ),
        Binding("enter", "open_detail", "Detail", id="home.detail", tooltip="Open the detail"),
        Binding("n", "app.new", "New", id="home.new", tooltip="Add an integration"),
        Binding("e", "edit", "Edit", id="home.edit", tooltip="Edit the highlighted integration"),
        Binding("d", "delete", "Delete", id="home.delete", tooltip="Delete (asks; marked rows)"),
        Binding("space", "mark", "Mark", id="home.mark", tooltip="Mark or unmark the row"),
        Binding("plus", "enable", "Enable", id="home.enable", tooltip="Enable (asks; marked rows)"),
        Binding(
            "minus", "disable", "Disable", id="home.disable", tooltip="Disable (asks; marked rows)"
        ),
        Binding("t", "test", "Test", id="home.test", tooltip="Probe it (marked rows: asks)"),
        Binding(
            "T", "app.test_all", "Test all", id="home.test_all", tooltip="Probe all, with progress"
        ),
        Binding(
            "L", "app.limits", "Limits", id="home.limits", tooltip="Every integration's limits"
        ),
        Binding(
            "H", "app.health_log", "Log", id="home.health_log", tooltip="All probes, newest first"
        ),
        Binding(
            "dollar_sign",
            "app.spend",
            "Spend",
            show=False,
            id="home.spend",
            tooltip="Provider-reported spend, drift, balances, accounts",
        ),
        Binding("r", "refresh", "Refresh", show=False, id="home.refresh", tooltip="Reload now"),
        Binding("s", "sort", "Sort", show=False, id="home.sort", tooltip="Sort by the next column"),
        Binding(
            "w",
            "wide",
            "Wide",
            show=False,
            id="home.wide",
            tooltip="Every column at full width (scrolls sideways); again: the columns that fit",
        ),
        Binding(
            "S",
            "sort_reverse",
            "Reverse",
            show=False,
            id="home.sort_reverse",
            tooltip="Reverse sort",
        ),
        Binding(
            "right_square_bracket",
            "page(1)",
            "Next page",
            show=False,
            id="home.next_page",
            tooltip="Next page of rows",
        ),
        Binding(
            "left_square_bracket",
            "page(-1)",
            "Prev page",
            show=False,
            id="home.prev_page",
            tooltip="Previous page of rows",
        ),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | j | home.down | Move down |
    | k | home.up | Move up |
    | g | home.top | Go to the first row |
    | G | home.bottom | Go to the last row |
    | / | home.filter | Filter by name/model |
    | esc | home.clear | Clear the filter, else the marks |
    | enter | home.detail | Open the detail |
    | n | home.new | Add an integration |
    | e | home.edit | Edit the highlighted integration |
    | d | home.delete | Delete (asks; marked rows) |
    | space | home.mark | Mark or unmark the row |
    | + | home.enable | Enable (asks; marked rows) |
    | - | home.disable | Disable (asks; marked rows) |
    | t | home.test | Probe it (marked rows: asks) |
    | T | home.test_all | Probe all, with progress |
    | L | home.limits | Every integration's limits |
    | H | home.health_log | All probes, newest first |
    | $ | home.spend | Provider-reported spend, drift, balances, accounts |
    | r | home.refresh | Reload now |
    | s | home.sort | Sort by the next column |
    | w | home.wide | Every column at full width (scrolls sideways); again: the columns that fit |
    | S | home.sort_reverse | Reverse sort |
    | ] | home.next_page | Next page of rows |
    | [ | home.prev_page | Previous page of rows |
    """

    def __init__(self) -> None:
        super().__init__(id="home")
        self.filter_text = ""
        self.sort_index = 0
        self.sort_reverse = False  # of the sort's own direction (S)
        self.marked: dict[str, str] = {}  # id -> name, in marking order
        self.matches: list[Row] = []  # every row the filter shows, sorted (all pages)
        self.page = 0
        self.view: list[Row] = []  # the rows of the current page
        self.total_rows = 0  # rows matching the filter, over all pages
        self.listing: Listing | None = None  # unfiltered
        self.limits: dict[str, LimitFigures | None] = {}
        self.limits_available = True
        self.spend: dict[str, Any] | None = None  # core.spend's overview, for the panel
        self.loaded = False
        self._pending_cursor: str | None = None
        self._pending_row: int | None = None
        self._progress_parts: tuple[Horizontal, Label, ProgressBar] | None = (
            None  # 0 = first row of the page, -1 = last
        )

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # The filter box and the test-all progress are mounted on first use (_filter_box,
        # _progress): the first paint does without their widgets and their styles.
        yield Static("", id="header-bar")
        with Vertical(id="onboarding"):
            yield Static(ONBOARDING, id="onboarding-text")
        with Vertical(id="body"):
            yield RowTable(COLUMNS, id="table")
            yield Static("", id="panel")
        yield Static("", id="status-line")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#onboarding").display = False
        self.update_header()

    def first_load(self) -> None:
        if not self._show_read_ahead():
            self.reload()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")
        self.update_header()

    @property
    def table(self) -> RowTable:
        return self.query_one("#table", RowTable)

    # -- loading --------------------------------------------------------------------------------

    @work(exclusive=True, group="home-load", exit_on_error=False)
    async def reload(self, filter_only: bool = False) -> None:
        """Fetch (worker), then render (main thread). Exclusive: a newer reload cancels an older.
        Home's own, instead of DataScreen's: a filter, sort or page change reloads less.

        The rows come from the core's light read side in one read; only the page on screen gets
        its limit figures and its cells built, so a repaint costs the same at 10 or 10,000 rows.
        """
        data = self.app.data
        search = self.filter_text or None
        matches = await data.listing(search)
        listing: Listing | None = matches
        if search is not None:  # the header counts every integration, not the matches
            listing = None if filter_only and self.listing else await data.listing()
        # A filter, sort or page change reuses the limits already read: they change only with
        # the database, and a change reloads everything (filter_only=False).
        known = self.limits if filter_only else {}
        if SORTS[self.sort_index].usage:  # sorting by a usage column needs every row's figures
            every = await data.limits(s.id for s in matches.items if s.id not in known)
            known = {**known, **every}
        view, page, rows = self._page_of(matches.items, known)
        fresh = await data.limits(s.id for s in rows if s.id not in known)
        limits = {s.id: fresh.get(s.id, known.get(s.id)) for s in rows}
        available = True
        if filter_only or SORTS[self.sort_index].usage:
            limits = {**known, **limits}
        self._show(listing, view, page, limits, available)

    @work(exclusive=True, group="home-tick", exit_on_error=False)
    async def tick(self) -> None:
        """Time passed, nothing changed on disk: re-read the limits of the page on screen (the
        rolling minute) and repaint its rows (the ages). The listing itself has not changed."""
        if not self.loaded or not self.view:
            return
        fresh = await self.app.data.limits(s.id for s in self.view)
        self.limits = {**self.limits, **fresh}
        self._render_rows()

    def _show_read_ahead(self) -> bool:
        """Render the app's read-ahead (started before Textual was up) if it has finished: then
        the first paint already has every row, and no empty screen is painted first."""
        ahead = self.app.data.take_read_ahead()
        if ahead is None:
            return False
        listing, limits = ahead
        view, page, rows = self._page_of(listing.items, limits)
        if any(s.id not in limits for s in rows):
            return False
        self._show(listing, view, page, {s.id: limits[s.id] for s in rows}, True)
        return True

    def _page_of(
        self, items: list[Row], limits: Mapping[str, LimitFigures | None]
    ) -> tuple[list[Row], int, list[Row]]:
        """Sorted matches, the page to show, and that page's rows."""
        view = self._sorted(items, limits)
        page = self._page_for(view)
        return view, page, view[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]

    def _show(
        self,
        listing: Listing | None,
        view: list[Row],
        page: int,
        limits: dict[str, LimitFigures | None],
        available: bool,
    ) -> None:
        self.view = view[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        self.matches = view
        self.total_rows, self.page = len(view), page
        self.limits, self.limits_available = limits, available
        if listing is not None:
            self.app.observe_listing(listing)
            self.listing = listing
            if self.marked:  # a deleted integration is no longer marked
                ids = {s.id for s in listing.items}
                self.marked = {i: n for i, n in self.marked.items() if i in ids}
        first = not self.loaded
        self.loaded = True
        self._render_rows()
        if first:
            self.call_after_refresh(self.app.home_painted)

    @property
    def descending(self) -> bool:
        return SORTS[self.sort_index].descending != self.sort_reverse

    def _sorted(self, items: list[Row], limits: Mapping[str, LimitFigures | None]) -> list[Row]:
        key = SORTS[self.sort_index].key
        if key is None:
            return list(reversed(items)) if self.sort_reverse else list(items)
        valued: list[tuple[Any, Row]] = []
        missing: list[Row] = []
        for row in items:
            value = key(row, limits.get(row.id))
            if value is None:
                missing.append(row)
            else:
                valued.append((value, row))
        valued.sort(key=itemgetter(0), reverse=self.descending)  # stable either way
        return [row for _, row in valued] + missing

    def _page_for(self, view: list[Row]) -> int:
        """Keep the highlighted integration on screen: the page that holds it, if it exists."""
        want = self._pending_cursor or self.current_id()
        if want is not None and self._pending_row is None:
            for index, item in enumerate(view):
                if item.id == want:
                    return index // PAGE_SIZE
        pages = max(1, -(-len(view) // PAGE_SIZE))
        return min(self.page, pages - 1)

    # -- rendering ------------------------------------------------------------------------------

    def _render_rows(self) -> None:
        table = self.table
        keep = self._pending_cursor or self.current_id()
        keep_row = table.cursor_row
        pending_row, self._pending_row, self._pending_cursor = self._pending_row, None, None
        now = self.app.now()
        rows = self.view
        target = 0
        if pending_row is not None:
            target = pending_row % len(rows) if rows else 0
        elif keep is not None:
            for index, item in enumerate(rows):
                if item.id == keep:
                    target = index
                    break
            else:  # deleted: stay at the same place
                target = min(keep_row, max(0, len(rows) - 1))
        sort = SORTS[self.sort_index]
        table.set_sort(sort.column, self.descending)
        table.set_marked(frozenset(self.marked))
        table.set_rows([(item.id, self._cells(item, now)) for item in rows], cursor=target)
        self._update_onboarding()
        self.update_header()
        self._update_status()
        self._update_panel()

    def _update_onboarding(self) -> None:
        empty = self.listing is not None and self.listing.total == 0 and not self.filter_text
        self.query_one("#onboarding").display = empty
        body = self.query_one("#body")
        if body.display == empty:
            body.display = not empty
            # Hiding the table took its focus (onboarding); the first integration gives it back.
            if not empty and self.focused is None:
                self.table.focus()

    def _cells(self, s: Row, now: datetime) -> list[Any]:
        lim = self.limits.get(s.id)
        look = self.look
        if lim is None:
            usage: list[Any] = [Text("n/a", style="dim", justify="right")] * 3
        else:
            usage = [
                fmt.percent_text(lim.budget_percent, lim.budget_limit_cents, look),
                fmt.percent_text(lim.token_percent, lim.token_limit_month, look),
                Text(
                    f"{lim.requests_this_minute}/{lim.rate_limit_rpm or '∞'}",
                    style=look(fmt.level_style(lim.rate_percent, lim.rate_limit_rpm)),
                    justify="right",
                ),
            ]
        return [
            fmt.health_text(s.health_state, look),
            s.name,
            fmt.value(s.provider_type),
            fmt.status_text(s.status, look),
            s.default_model or "–",
            *usage,
            Text(fmt.latency(s.health_latency_ms), justify="right"),
            fmt.ago(s.health_checked_at, now),
        ]

    def update_header(self) -> None:
        """Two lines that fit the width: who and which database (its path cut from the left),
        then the counts by health and the probes (symbols without words when the line is narrow)."""
        app = self.app
        counts = self.listing.counts if self.listing else {}
        total = self.listing.total if self.listing else 0
        room = max(20, self.size.width - 2)
        top = Text()
        top.append("byok", style="bold")
        top.append("  tenant ")
        top.append(app.data.tenant_id, style="bold")
        top.append("  ·  db ")
        label = app.data.db_label
        watch = fmt.watch_indicator(app.watcher, self.look)
        left = room - top.cell_len - watch.cell_len
        if len(label) > left:
            label = "…" + label[-max(1, left - 1) :]
        top.append(label)
        top.append_text(watch)
        probes = app.probe_state
        lines = []
        for words in (True, False):
            line = Text(f"{total:,} integrations" if words else f"{total:,}:")
            for state in fmt.HEALTH_ORDER:
                n = counts.get(state, 0)
                line.append("  ")
                shown = f"{fmt.HEALTH_SYMBOL[state]} {n:,}" + (f" {state}" if words else "")
                line.append(shown, style=self.look(fmt.HEALTH_STYLE[state] if n else ""))
            if probes:
                line.append(f"  ·  {probes}", style="dim")
            lines.append(line)
            if line.cell_len <= room:
                break
        text = Text("\n").join([top, lines[-1]])
        text.no_wrap, text.overflow = True, "ellipsis"
        self.query_one("#header-bar", Static).update(fmt.safe(text))

    def _update_status(self) -> None:
        n = self.total_rows
        first = self.page * PAGE_SIZE + 1 if n else 0
        last = min(n, (self.page + 1) * PAGE_SIZE)
        pages = max(1, -(-n // PAGE_SIZE))
        bits = [f"rows {first:,}–{last:,} of {n:,}"]
        if pages > 1:
            bits.append(f"page {self.page + 1}/{pages} ([ ])")
        sort = SORTS[self.sort_index]
        way = SORT_MARKS[self.descending] if sort.column else " oldest first" * self.sort_reverse
        bits.append(f"sort: {sort.name}{way} (s S)")
        if self.table.wide:
            bits.append("wide (w)")
        if self.marked:
            bits.append(f"{len(self.marked):,} marked (esc clears)")
        if self.filter_text:
            bits.append(f"filter: {self.filter_text!r}")
        if not self.limits_available:
            bits.append("usage & limits: not available in this build")
        self.query_one("#status-line", Static).update(fmt.safe("  ·  ".join(bits)))

    def _update_panel(self) -> None:
        panel = self.query_one("#panel", Static)
        item = self.current()
        if item is None:
            panel.update(
                "No integration matches the filter." if self.filter_text else "Nothing selected."
            )
            return
        panel.update(fmt.safe(self._panel_text(item)))
        # After the paint: the key line needs the full facade, which no paint waits for.
        self.call_after_refresh(self.load_panel_detail, item.id)

    def _panel_text(self, s: Row, detail: IntegrationDetailResult | None = None) -> Text:
        now = self.app.now()
        text = Text()
        text.append(f"{s.name}\n", style="bold")
        text.append(f"{fmt.value(s.provider_type)} · {fmt.value(s.status)} · ")
        text.append_text(fmt.health_text(s.health_state, self.look))
        text.append(f"\nmodel    {s.default_model or '–'}\n")
        if detail is not None:
            src = fmt.value(detail.credential_source)
            text.append(f"key      {detail.credential_hint or '–'} ({src})\n")
        checked = fmt.ago(s.health_checked_at, now)
        text.append(f"checked  {checked} · {fmt.latency(s.health_latency_ms)}\n")
        if detail is not None and detail.health_message:
            text.append(f"         {detail.health_message}\n", style="italic")
        lim = self.limits.get(s.id)
        if lim is None:
            if not self.limits_available:
                text.append("limits   usage & limits not available in this build\n", style="dim")
        else:
            for label, pct, limit, used, cap in (
                (
                    "budget",
                    lim.budget_percent,
                    lim.budget_limit_cents,
                    fmt.dollars(lim.budget_used_cents),
                    fmt.dollars(lim.budget_limit_cents),
                ),
                (
                    "tokens",
                    lim.token_percent,
                    lim.token_limit_month,
                    fmt.count(lim.tokens_used_month),
                    fmt.count(lim.token_limit_month),
                ),
                (
                    "rpm",
                    lim.rate_percent,
                    lim.rate_limit_rpm,
                    str(lim.requests_this_minute),
                    str(lim.rate_limit_rpm),
                ),
            ):
                text.append(f"{label:<8} ")
                text.append(fmt.bar(pct, limit, 10), style=self.look(fmt.level_style(pct, limit)))
                shown = fmt.percent(pct, limit)
                every = fmt.per_period(lim.budget_period) if label != "rpm" and limit else ""
                text.append(f" {shown:>5} {used} / {cap if limit else 'unlimited'}{every}\n")
        return text

    @work(exclusive=True, group="home-panel", exit_on_error=False)
    async def load_panel_detail(self, integration_id: str) -> None:
        data = self.app.data
        facade = await data.get_facade()
        detail = await facade.get_integration(data.tenant_id, integration_id)
        if self.spend is None:  # read once per change of the files, not per cursor move
            self.spend = await data.spend()
        item = self.current()
        if detail is None or item is None or item.id != integration_id:
            return
        text = self._panel_text(item, detail)
        if self.spend["accounts"]:
            from tui.screens.spend import panel_text

            info = self.spend["integrations"].get(integration_id)
            text.append_text(panel_text(info, self.look))
        self.query_one("#panel", Static).update(fmt.safe(text))

    def refresh_data(self) -> None:
        self.spend = None  # the files changed: the panel's spend figures too, maybe
        super().refresh_data()

    # -- selection ------------------------------------------------------------------------------

    def current_id(self) -> str | None:
        return self.table.cursor_key

    def current(self) -> Row | None:
        iid = self.current_id()
        if iid is None:
            return None
        for item in self.view:
            if item.id == iid:
                return item
        return None

    @on(RowTable.RowHighlighted, "#table")
    def _highlighted(self) -> None:
        if self.loaded:
            self._update_panel()

    @on(RowTable.RowSelected, "#table")
    def _selected(self) -> None:
        self.action_open_detail()

    # -- filter ---------------------------------------------------------------------------------

    def _filter_box(self) -> Input:
        try:
            return self.query_one("#filter", Input)
        except NoMatches:
            self.app.load_screen_styles()  # its styles, if `/` came before the first paint
            box = Input(placeholder="filter: name, provider or model (esc clears)", id="filter")
            box.cursor_blink = self.app.cursor_blink
            self.mount(box, after="#header-bar")
            return box

    def action_filter(self) -> None:
        box = self._filter_box()
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.page = 0
        self.reload(filter_only=True)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.table.focus()

    def action_clear(self) -> None:
        box = self._filter_box()
        if box.has_focus and not box.value:
            box.display = False
            self.table.focus()
            return
        if self.filter_text or box.value:
            box.value = ""  # Input.Changed reloads
            self.filter_text = ""
        elif self.marked:  # no filter to clear: the marks next
            self.clear_marks()
        box.display = False
        self.table.focus()

    # -- movement -------------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_top(self) -> None:
        self._go(0, 0)

    def action_bottom(self) -> None:
        self._go((max(self.total_rows, 1) - 1) // PAGE_SIZE, -1)

    def action_page(self, delta: int) -> None:
        pages = max(1, -(-self.total_rows // PAGE_SIZE))
        target = min(max(0, self.page + delta), pages - 1)
        if target != self.page:
            self._go(target, 0)

    def _go(self, page: int, row: int) -> None:
        if page != self.page:
            self.page, self._pending_row = page, row
            self.reload(filter_only=True)
        elif self.table.row_count:
            self.table.move_cursor(row % self.table.row_count)

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.sort_reverse = False
        self.reload(filter_only=True)

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.reload(filter_only=True)

    def sort_by(self, name: str, descending: bool | None = None) -> None:
        """Sort by the sort `name` (one of SORTS), in its own direction unless told."""
        self.sort_index = SORT_INDEX[name]
        own = SORTS[self.sort_index].descending
        self.sort_reverse = descending is not None and descending != own
        self.reload(filter_only=True)

    # -- marks ----------------------------------------------------------------------------------

    def action_mark(self) -> None:
        item = self.current()
        if item is None:
            return
        if self.marked.pop(item.id, None) is None:
            self.marked[item.id] = item.name
        self._show_marks()

    def mark_all(self) -> None:
        """Mark every row the filter shows, on every page."""
        self.marked.update((s.id, s.name) for s in self.matches)
        self._show_marks()

    def clear_marks(self) -> None:
        self.marked.clear()
        self._show_marks()

    def unmark(self, ids: list[str]) -> None:
        for iid in ids:
            self.marked.pop(iid, None)
        self._show_marks()

    def _show_marks(self) -> None:
        self.table.set_marked(frozenset(self.marked))
        self._update_status()

    def targets(self) -> list[tuple[str, str]]:
        """The marked rows if any (every page), else the highlighted one."""
        if self.marked:
            return list(self.marked.items())
        return super().targets()

    def action_refresh(self) -> None:
        self.reload()

    def action_wide(self) -> None:
        self.table.set_wide(not self.table.wide)
        self._update_status()

    # -- actions on the highlighted integration -------------------------------------------------

    def action_open_detail(self) -> None:
        iid = self.current_id()
        if iid is not None:
            self.app.open_detail(iid)

    def target(self) -> tuple[str, str] | None:
        item = self.current()
        return None if item is None else (item.id, item.name)

    def highlight_next(self, integration_id: str) -> None:
        """Put the cursor on this integration at the next reload (the one just saved)."""
        self._pending_cursor = integration_id

    def _progress(self) -> tuple[Horizontal, Label, ProgressBar]:
        if self._progress_parts is None:
            from textual.containers import Horizontal  # not for the first paint
            from textual.widgets import Label, ProgressBar

            self.app.load_screen_styles()  # its styles, if `T` came before the first paint
            label = Label("", id="test-progress-label")
            bar = ProgressBar(total=1, show_eta=False, id="test-progress-bar")
            box = Horizontal(label, bar, id="test-progress")
            self.mount(box, after="#header-bar")
            self._progress_parts = (box, label, bar)
        return self._progress_parts

    def show_progress(self, done: int, total: int, failing: int) -> None:
        box, label, bar = self._progress()
        box.display = done < total
        bar.update(total=max(total, 1), progress=done)
        label.update(f"Testing {done:,}/{total:,}  ✖ {failing:,} failing ")


ONBOARDING = (
    "[b]No integrations yet.[/b]\n\n"
    "Press [b]n[/b] to add your first one: give it a name, pick the provider and paste the key, "
    "or write [b]env:OPENAI_API_KEY[/b] / [b]file:/run/secrets/key[/b] to have it read when "
    "needed. A pasted key is stored encrypted; only its last 4 characters are ever shown.\n\n"
    "Then press [b]t[/b] to test it. Set a budget, a token limit or an RPM limit to watch usage "
    "against them here. From a shell: [b]byok add --help[/b].\n\n"
    "Press [b]?[/b] for every key, [b]ctrl+p[/b] for every command, [b]q[/b] to quit."
)
