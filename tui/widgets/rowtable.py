"""RowTable: a read-only table of rows with a row cursor, that paints only the lines on screen.

Why not Textual's DataTable: at start-up its first paint of one page of rows cost ~100 ms on the
project's machine (per-cell rendering and style lookups), a third of the console's whole start-up
budget. Here a row becomes one strip of segments the first time it is shown, and that strip is
cached until the rows, the column widths or the styles change. The header stays on the top line.

Columns fit the width: the required ones (priority 0) always show, the others join in priority
order while they fit, and a flexible column (the name) takes the room left, its cells cut with
"…". In wide mode every column shows at its full width, scrolling sideways if it must.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui import format as fmt

Cell = str | Text
PADDING = 1  # spaces on each side of a cell
SORT_MARKS = {False: " ▲", True: " ▼"}  # ascending, descending: after the sorted column's label
MARK = "●"  # in a marked row's first padding cell: a mark reads without colour, shifts nothing


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    justify: JustifyMethod = "left"
    priority: int = 0  # 0: always shown; else shown when it fits, lower numbers first
    flex: bool = False  # takes the room left over (at least min_width), cut with "…"
    min_width: int = 8
    max_width: int | None = None  # wider cells are cut with "…" (not in wide mode)


class RowTable(ScrollView, can_focus=True):
    """Rows of cells, one line each, keyed by a string; a cursor highlights one row.

    Styles come from the component classes below (see app.tcss), so the ANSI themes and NO_COLOR
    apply to it like to any stock widget.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowtable--header",
        "rowtable--cursor",
        "rowtable--cursor-blurred",
        "rowtable--even-row",
        "rowtable--marked",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False, id="table.up", tooltip="Move up"),
        Binding("down", "cursor_down", "Down", show=False, id="table.down", tooltip="Move down"),
        Binding(
            "pageup", "page_up", "Page up", show=False, id="table.page_up", tooltip="A screen up"
        ),
        Binding(
            "pagedown",
            "page_down",
            "Page down",
            show=False,
            id="table.page_down",
            tooltip="A screen down",
        ),
        Binding("home", "first", "First", show=False, id="table.first", tooltip="First row"),
        Binding("end", "last", "Last", show=False, id="table.last", tooltip="Last row"),
        Binding("left", "scroll_left", "Left", show=False, id="table.left", tooltip="Scroll left"),
        Binding(
            "right", "scroll_right", "Right", show=False, id="table.right", tooltip="Scroll right"
        ),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | up | table.up | Move up |
    | down | table.down | Move down |
    | pageup | table.page_up | A screen up |
    | pagedown | table.page_down | A screen down |
    | home | table.first | First row |
    | end | table.last | Last row |
    | left | table.left | Scroll left |
    | right | table.right | Scroll right |
    """

    class _RowMessage(Message):
        def __init__(self, table: RowTable, row_index: int, row_key: str) -> None:
            super().__init__()
            self.table = table
            self.row_index = row_index
            self.row_key = row_key

        @property
        def control(self) -> RowTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved to another row (or the rows under it changed)."""

    class RowSelected(_RowMessage):
        """A double click on a row, or `action_select` (bind enter to it, or leave enter to the
        screen, as the home screen does, so that its footer shows what enter does)."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        zebra_stripes: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.zebra_stripes = zebra_stripes
        self._keys: list[str] = []
        self._cells: list[list[Text]] = []
        self._widths = [cell_len(c.label) for c in self.columns]
        self._cursor = 0
        self._strips: dict[tuple[int, bool, bool], Strip] = {}
        self._shown: list[tuple[int, int]] = []  # (column index, width) of each column shown
        self.wide = False
        self._sort: tuple[str, bool] | None = None  # (column key, descending)
        self._marked: frozenset[str] = frozenset()

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen, in order."""
        return [self.columns[i].key for i, _ in self._shown]

    def set_wide(self, wide: bool) -> None:
        """Every column at its full width (scrolling sideways), or only those that fit."""
        self.wide = wide
        self._fit()

    # -- data -------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self._cursor] if self._keys else None

    def get_row_at(self, index: int) -> list[Text]:
        return list(self._cells[index])

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]], *, cursor: int = 0) -> None:
        """Replace every row at once (one width pass, one repaint) and put the cursor on row
        `cursor` (clamped). Posts RowHighlighted when there is a row."""
        self._keys = [key for key, _ in rows]
        self._cells = [[fmt.safe(c) for c in cells] for _, cells in rows]
        self._measure()
        self._cursor = -1  # so that move_cursor always announces the row
        self.move_cursor(cursor)
        self.refresh()

    def set_sort(self, column: str | None, descending: bool = False) -> None:
        """Show ▲ (ascending) or ▼ (descending) after the label of the column sorted by."""
        sort = None if column is None else (column, descending)
        if sort != self._sort:
            self._sort = sort
            self._measure()
            self.refresh()

    def set_marked(self, keys: frozenset[str]) -> None:
        """Mark these rows (a ● at the row's left edge, and the marked style)."""
        changed = keys ^ self._marked
        self._marked = keys
        for index, key in enumerate(self._keys):
            if key in changed:
                for variant in ((index, False, False), (index, True, False), (index, True, True)):
                    self._strips.pop(variant, None)
                self._refresh_row(index)

    def _header(self) -> list[Text]:
        sort = self._sort
        return [
            Text(c.label + (SORT_MARKS[sort[1]] if sort and sort[0] == c.key else ""))
            for c in self.columns
        ]

    def _measure(self) -> None:
        """Column widths (the widest cell or header of each), then the columns that fit."""
        widths = [cell.cell_len for cell in self._header()]
        for cells in self._cells:
            for i, cell in enumerate(cells):
                if cell.cell_len > widths[i]:
                    widths[i] = cell.cell_len
        self._widths = widths
        self._fit()

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        if not self._keys:
            self._cursor = 0
            return
        row = min(max(row, 0), len(self._keys) - 1)
        moved = row != self._cursor
        if moved:
            old, self._cursor = self._cursor, row
            self._refresh_row(old)
            self._refresh_row(row)
            self.post_message(self.RowHighlighted(self, row, self._keys[row]))
        if scroll:
            self._scroll_to_cursor()

    # -- actions ----------------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page_rows())

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page_rows())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._keys) - 1)

    def action_select(self) -> None:
        if self._keys:
            self.post_message(self.RowSelected(self, self._cursor, self._keys[self._cursor]))

    def _on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        row = int(self.scroll_offset.y) + event.y - 1
        if 0 <= row < len(self._keys):
            self.move_cursor(row, scroll=False)
            if event.chain >= 2:
                self.action_select()

    # -- painting ---------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self.refresh()

    def _on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        self._fit()
        self._scroll_to_cursor()

    def _fit(self) -> None:
        """Choose the columns shown and their widths for the current width; repaint."""
        columns, natural = self.columns, self._widths
        if self.wide or not self.size.width:
            shown = list(enumerate(natural))
        else:
            room = self.size.width
            if len(self._keys) + 1 > self.size.height:  # the vertical scrollbar takes its part
                room -= self.styles.scrollbar_size_vertical
            pad = 2 * PADDING

            def fixed(i: int) -> int:
                cap = columns[i].max_width
                return min(natural[i], cap) if cap else natural[i]

            chosen = {i for i, c in enumerate(columns) if not c.priority}
            flex = [i for i in chosen if columns[i].flex]
            used = sum(fixed(i) + pad for i in chosen if i not in flex)
            used += sum(min(natural[i], columns[i].min_width) + pad for i in flex)
            optional = sorted((c.priority, i) for i, c in enumerate(columns) if c.priority)
            for _, i in optional:
                if used + fixed(i) + pad > room:
                    break
                chosen.add(i)
                used += fixed(i) + pad
            left = room - used
            shown = []
            for i in sorted(chosen):
                if i in flex:
                    least = min(natural[i], columns[i].min_width)
                    width = min(natural[i], least + max(0, left))
                    left -= width - least
                else:
                    width = fixed(i)
                shown.append((i, width))
        self._shown = shown
        self._strips.clear()
        self.virtual_size = Size(self._line_width(), len(self._keys) + 1)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            strip = self._strip(-1, base)
        else:
            index = scroll_y + y - 1
            if index >= len(self._keys):
                return Strip.blank(width, base)
            strip = self._strip(index, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _strip(self, index: int, base: Style) -> Strip:
        focused = self.has_focus
        cursor = index == self._cursor and index >= 0
        key = (index, cursor, focused and cursor)
        strip = self._strips.get(key)
        if strip is None:
            over: Style | None = None
            marked = False
            if index < 0:
                cells = self._header()
                style = base + self.get_component_rich_style("rowtable--header")
            else:
                cells = self._cells[index]
                style = base
                if self.zebra_stripes and index % 2 == 0:
                    style += self.get_component_rich_style("rowtable--even-row")
                if marked := self._keys[index] in self._marked:
                    style += self.get_component_rich_style("rowtable--marked")
                if cursor:  # chosen here, not by a :focus rule, so it follows has_focus
                    over = self.get_component_rich_style(
                        "rowtable--cursor" if focused else "rowtable--cursor-blurred"
                    )
            strip = self._render_row(cells, style, over, marked)
            self._strips[key] = strip
        return strip

    def _render_row(
        self, cells: Sequence[Text], style: Style, over: Style | None = None, marked: bool = False
    ) -> Strip:
        """One line of cells on `style`; `over` (the cursor) wins over the cells' own colours,
        so that no state colour lands on the cursor's background; a marked row starts with ●."""
        line = Text(no_wrap=True, overflow="crop")
        pad = " " * PADDING
        columns = self.columns
        for index, width in self._shown:
            if index >= len(cells):
                break
            shown = cells[index].copy()
            shown.no_wrap, shown.overflow = True, "ellipsis"
            shown.align(columns[index].justify, width)
            line.append(MARK + pad[1:] if marked and not line else pad)
            line.append_text(shown)
            line.append(pad)
        segments = list(line.render(self.app.console))
        if over is not None:
            segments = list(Segment.apply_style(segments, style, post_style=over))
            return Strip(segments, line.cell_len)
        return Strip(segments, line.cell_len).apply_style(style)

    def _line_width(self) -> int:
        return sum(width for _, width in self._shown) + 2 * PADDING * len(self._shown)

    def _refresh_row(self, index: int) -> None:
        if 0 <= index < len(self._keys):
            self.refresh_line(index + 1)  # virtual line: the header is line 0

    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def _scroll_to_cursor(self) -> None:
        # the rows under the header and above a horizontal scrollbar, if there is one
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        row = self._cursor
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False, immediate=True)
