"""Console test fixtures: a real facade on a tmp database with a fixed clock, the fake provider
server on 127.0.0.1, and helpers that wait for the app instead of sleeping blindly."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.console import fixed_clock

from core import IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer


@pytest.fixture
def fake_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
async def tfacade(db_path: Path) -> AsyncIterator[IntegrationsFacade]:
    """A facade whose clock is fixed (so "3m ago" is stable) and probes fast."""
    f = IntegrationsFacade(db_path, clock=fixed_clock, probe_timeout_s=3, durable=False)
    yield f
    await f.aclose()


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic integration ids (uuid4 is the only random input of a create)."""
    counter = itertools.count(1)
    monkeypatch.setattr(
        "core.integrations.repository.uuid.uuid4", lambda: uuid.UUID(int=next(counter))
    )
