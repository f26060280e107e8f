"""Shared fixtures. Every test runs with its own HOME and XDG dirs, so nothing touches the real
user's data, config or key file, and with a fixed master key unless it asks otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.env import TEST_MASTER_KEY

from core import IntegrationsFacade


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("BYOK_MASTER_KEY", TEST_MASTER_KEY)
    for var in ("BYOK_DB", "BYOK_KEY_FILE", "BYOK_TENANT"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "byok.json"


@pytest.fixture
async def facade(db_path: Path) -> AsyncIterator[IntegrationsFacade]:
    f = IntegrationsFacade(db_path)
    yield f
    await f.aclose()

