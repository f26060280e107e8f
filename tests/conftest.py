"""Shared fixtures. Every test runs with its own HOME and XDG dirs, so nothing touches the real
user's data, config or key file, and with a fixed master key unless it asks otherwise."""

from __future__ import annotations

import compileall
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.env import isolate
from support.facade import OpenFacade

import core
import tui
from core import IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile byok's own modules once, so the many `byok` child processes load bytecode.

    With PYTHONDONTWRITEBYTECODE set (as on this machine, and likely CI) every child would
    otherwise compile core/ and tui/ afresh: about 0.1 s of CPU per CLI run, several hundred
    runs. The .pyc files go where Python reads them (__pycache__ beside the sources,
    git-ignored); up-to-date ones are left alone, so xdist workers redo nothing.
    """
    for package in (core, tui):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    isolate(monkeypatch, home)
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "byok.json"


@pytest.fixture
async def facade(db_path: Path) -> AsyncIterator[IntegrationsFacade]:
    f = IntegrationsFacade(db_path)
    yield f
    await f.aclose()


@pytest.fixture
async def open_facade(db_path: Path) -> AsyncIterator[OpenFacade]:
    """`open_facade(**options)`: a facade on `db_path` with the test's own options (a clock, a
    timeout...), or another process's view of the same files; each is closed after the test."""
    opened: list[IntegrationsFacade] = []

    def open_(**options: Any) -> IntegrationsFacade:
        opened.append(IntegrationsFacade(db_path, **options))
        return opened[-1]

    yield open_
    for f in opened:
        await f.aclose()


def _started_fake_server() -> FakeProviderServer:
    server = FakeProviderServer().start()
    server.hang_s = 5.0  # a hung probe's server side ends soon after the client gave up
    return server


@pytest.fixture(scope="session")
def shared_fake_server() -> Iterator[FakeProviderServer]:
    """The session's fake provider, for fixtures wider than one test (tests take `fake_server`)."""
    server = _started_fake_server()
    yield server
    server.stop()


@pytest.fixture
def fake_server(shared_fake_server: FakeProviderServer) -> FakeProviderServer:
    """The fake provider on 127.0.0.1, started once per session: each test begins with no
    scripted outcome and an empty request log (keys are unique per test, so nothing leaks)."""
    shared_fake_server.reset()
    return shared_fake_server


@pytest.fixture
def own_fake_server() -> Iterator[FakeProviderServer]:
    """A fake provider of this test alone, for tests that count the server's open connections
    (another test's hung probe may still hold one on the shared server)."""
    server = _started_fake_server()
    yield server
    server.stop()
