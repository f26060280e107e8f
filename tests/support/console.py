"""Helpers shared by the console tests: wait for the app instead of sleeping blindly, read it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

S = TypeVar("S")


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds; fail with a clear message after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)


async def open_screen(pilot: Any, key: str, screen: type[S]) -> S:
    """Press `key` and wait until the app shows a `screen`; that screen."""
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen))
    return pilot.app.screen


def table_names(app: Any) -> list[str]:
    table = app.screen.query_one("#table")
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def notifications(app: Any) -> list[str]:
    return [f"{n.title or ''}: {n.message}" for n in app._notifications]
