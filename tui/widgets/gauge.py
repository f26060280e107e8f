"""A limit gauge: a bar that fills to 100% and the real percent beside it (140% stays 140%)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from tui.format import percent


class Gauge(Horizontal):
    """One limit: label, bar, real percent and "used / limit". Classes -warn (>= 80%) and -over
    (>= 100%) colour it; the text says the same thing for a terminal without colour."""

    DEFAULT_CSS = """
    Gauge { height: 1; }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._label = label

    def compose(self) -> ComposeResult:
        yield Label(f"{self._label:<8}", classes="gauge-label")
        yield ProgressBar(total=100, show_eta=False, show_percentage=False)
        yield Label("", classes="gauge-value")

    def show(self, pct: float | None, limit: int, used_text: str, limit_text: str) -> None:
        bar = self.query_one(ProgressBar)
        value_label = self.query_one(".gauge-value", Label)
        self.remove_class("-warn", "-over", "-off")
        if pct is None:
            bar.update(total=100, progress=0)
            value_label.update("not available")
            self.add_class("-off")
            return
        if not limit:
            bar.update(total=100, progress=0)
            value_label.update(f"{used_text} used · unlimited")
            self.add_class("-off")
            return
        bar.update(total=100, progress=min(pct, 100.0))
        mark = " OVER" if pct >= 100 else (" high" if pct >= 80 else "")
        value_label.update(f"{percent(pct, limit):>6}{mark}  {used_text} / {limit_text}")
        if pct >= 100:
            self.add_class("-over")
        elif pct >= 80:
            self.add_class("-warn")
