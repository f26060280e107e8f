"""Textual's DataTable, with one race closed: rows painted between `add_row` and the table's
next idle (when it measures the new rows) were cached at the width of the column labels and
stayed cut ("Name  Budget" columns 4 wide) until something else invalidated the cache. Here the
row cache is dropped whenever the widths are measured (Textual 8's `_update_dimensions`).
The limits and health log snapshots caught it, at random, under load."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class MeasuredTable(DataTable[Any]):
    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        self._clear_caches()
