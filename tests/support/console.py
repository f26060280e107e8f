"""Helpers shared by the console tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

T0 = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return T0


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds; fail with a clear message after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)


def table_names(app: Any) -> list[str]:
    table = app.screen.query_one("#table")
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def notifications(app: Any) -> list[str]:
    return [f"{n.title or ''}: {n.message}" for n in app._notifications]
