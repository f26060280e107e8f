"""The isolated environment every test runs in, and the same for the child processes it starts."""

from __future__ import annotations

import base64
import os

TEST_MASTER_KEY = base64.b64encode(bytes(range(32))).decode()


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: this test's isolated dirs and key."""
    env = dict(os.environ)
    env.update(extra)
    return env
