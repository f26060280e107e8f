"""Notifications: every notification of this session, newest first, shown as written."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tui.notices import KEPT
from tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from textual import getters

    from tui.app import ByokApp

SEVERITY_WORD = {"information": "info", "warning": "warning", "error": "error"}
SEVERITY_STYLE = {"information": "", "warning": "bold", "error": "bold reverse"}


class NotificationsScreen(Screen[None]):
    AUTO_FOCUS = "#notices-scroll"
    DEFAULT_CSS = """
    #notices-title { height: 1; padding: 0 1; text-style: bold; }
    #notices-scroll { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="notices.back", tooltip="Back one screen"),
        Binding("j", "scroll(1)", "Down", show=False, id="notices.down", tooltip="Scroll down"),
        Binding("k", "scroll(-1)", "Up", show=False, id="notices.up", tooltip="Scroll up"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc, q | notices.back | Back one screen |
    | j | notices.down | Scroll down |
    | k | notices.up | Scroll up |
    """

    if TYPE_CHECKING:
        app = getters.app(ByokApp)

    def compose(self) -> ComposeResult:
        yield Static("", id="notices-title")
        with VerticalScroll(id="notices-scroll"):
            yield Static("", id="notices-list")
        yield KeyBar()

    def on_mount(self) -> None:
        self.app.notices.changed.subscribe(self, self._changed)
        self.show_notices()

    def on_unmount(self) -> None:
        self.app.notices.changed.unsubscribe(self)

    def _changed(self, _: None) -> None:
        self.show_notices()

    def show_notices(self) -> None:
        notices = self.app.notices.newest_first()
        self.query_one("#notices-title", Static).update(
            Text(f"Notifications, newest first: {len(notices):,} (the last {KEPT:,} are kept)")
        )
        text = Text()
        for notice in notices:
            text.append(f"{notice.at:%H:%M:%S}  ")
            word = SEVERITY_WORD.get(notice.severity, notice.severity)
            text.append(f"{word:<7}", style=SEVERITY_STYLE.get(notice.severity, ""))
            if notice.title:
                text.append(f"  {notice.title}", style="bold")
            text.append("\n")
            for line in notice.message.splitlines() or [""]:
                text.append(Text(f"          {line}\n"))  # data, never markup
            text.append("\n")
        if not notices:
            text = Text("No notification yet.")
        self.query_one("#notices-list", Static).update(text)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_scroll(self, delta: int) -> None:
        self.query_one("#notices-scroll", VerticalScroll).scroll_relative(y=delta, animate=False)
