"""Console test fixtures: a real facade on a tmp database with a fixed clock, and fixed ids.
(The fake provider server is the shared `fake_server` of tests/conftest.py.)"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.clock import fixed_clock

from core import IntegrationsFacade


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
