"""The isolated environment every test runs in, and the same for the child processes it starts."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_MASTER_KEY = base64.b64encode(bytes(range(32))).decode()


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point HOME and the XDG dirs at `home`, fix the master key, drop the user's BYOK_*."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("BYOK_MASTER_KEY", TEST_MASTER_KEY)
    for var in ("BYOK_DB", "BYOK_KEY_FILE", "BYOK_TENANT"):
        monkeypatch.delenv(var, raising=False)


@contextlib.contextmanager
def isolated(home: Path) -> Iterator[None]:
    """`isolate` for a block, for fixtures wider than one test (they run outside its env)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, home)
        yield


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: this test's isolated dirs and key."""
    env = dict(os.environ)
    env.update(extra)
    return env
