"""Snapshots of the spend screen at 80x24 and 120x40, and at 80x24 under NO_COLOR: three
accounts synced from the fake provider (one failing), the days with their drift.

Deterministic as tests/console/test_console_snapshots.py is: a fixed clock, fixed ids (of the
integrations and the accounts), cursor blink off, the database in the working directory; the
fake provider's port is on no screen. Each also checks that no secret reaches the screen.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import fixed_clock
from support.console import wait_for
from support.consoleapp import loaded, make_app
from support.spendtenant import SECRETS, TENANT, build_spend_tenant

from core import IntegrationsFacade
from tui.app import ByokApp
from tui.demo.fakeprovider import FakeProviderServer
from tui.screens.spend import SpendScreen


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        yield s


def _app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, theme: str | None) -> ByokApp:
    counter = itertools.count(1)
    fixed = lambda: uuid.UUID(int=next(counter))  # noqa: E731
    monkeypatch.setattr("core.integrations.repository.uuid.uuid4", fixed)
    monkeypatch.setattr("core.spend.accounts.uuid.uuid4", fixed)
    monkeypatch.chdir(tmp_path)
    facade = IntegrationsFacade(tmp_path / "byok.json", clock=fixed_clock, durable=False)
    return make_app(facade, refresh_interval_s=None, theme=theme, sync_interval_s=None)


def _opened(server: FakeProviderServer):
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: loaded(app))
        facade = app.facade
        await build_spend_tenant(facade, server)
        await asyncio.to_thread(facade.spend().sync, TENANT)
        app.refresh_screens()
        await pilot.press("dollar_sign")
        await wait_for(pilot, lambda: isinstance(app.screen, SpendScreen))
        await wait_for(pilot, lambda: len(app.screen.accounts) == 3)
        await wait_for(pilot, lambda: not any(not w.is_finished for w in app.workers))
        await pilot.pause(0.2)
        shot = app.export_screenshot()
        assert not [s for s in SECRETS if s in shot]

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_spend_screen(snap_compare, tmp_path, monkeypatch, server, size):
    app = _app(tmp_path, monkeypatch, "textual-dark")
    assert snap_compare(app, terminal_size=size, run_before=_opened(server))


def test_spend_screen_no_color(snap_compare, tmp_path, monkeypatch, server):
    monkeypatch.setenv("NO_COLOR", "1")
    app = _app(tmp_path, monkeypatch, None)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_opened(server))
