"""Every notification the console showed, kept for the notifications screen (ctrl+n)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual.signal import Signal

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel

KEPT = 1000  # the oldest go first past this many


@dataclass(frozen=True, slots=True)
class Notice:
    at: datetime
    title: str
    message: str
    severity: SeverityLevel


class NoticeLog:
    """The notifications, newest first; `changed` is published after each one."""

    def __init__(self, app: App[object]) -> None:
        self._items: deque[Notice] = deque(maxlen=KEPT)
        self.changed: Signal[None] = Signal(app, "notices-changed")

    def add(self, notice: Notice) -> None:
        self._items.appendleft(notice)
        self.changed.publish(None)

    def newest_first(self) -> list[Notice]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)
