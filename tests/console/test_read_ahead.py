"""The console's read-ahead: a reload that waits on it and is cancelled (the refresh tick cancels
its worker) must not break the read-ahead thread, and the next reload still gets the rows."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from core import IntegrationsFacade
from core.readside import Dashboard
from tui.data import ConsoleData


async def test_a_cancelled_reload_leaves_the_read_ahead_whole(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = IntegrationsFacade(db_path)
    await f.create_integration("t1", name="one", provider_type="ollama")
    await f.aclose()
    dash = Dashboard(db_path)
    release = threading.Event()
    rows = dash.rows

    def slow_rows(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)  # a big database: the read-ahead is still reading
        return rows(*args, **kwargs)

    monkeypatch.setattr(dash, "rows", slow_rows)
    failures: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    data = ConsoleData(dash, "t1")
    data.start_read_ahead(10)
    [thread] = [t for t in threading.enumerate() if t.name == "byok-read-ahead"]
    reload = asyncio.create_task(data.listing())
    await asyncio.sleep(0.05)
    reload.cancel()  # what the refresh tick does to the worker waiting on the read-ahead
    with pytest.raises(asyncio.CancelledError):
        await reload
    release.set()
    await asyncio.to_thread(thread.join, 10)
    assert failures == []
    listing = await data.listing()
    assert [r.name for r in listing.items] == ["one"]
    assert data.first_token is not None
    await data.aclose()
