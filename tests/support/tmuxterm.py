"""A real terminal for end-to-end tests: a private tmux server running a plain shell.

Each `Terminal` has its own tmux socket (`tmux -L <unique>`), so tests never see the user's tmux
or each other, and `close()` kills that server. The shell is bash without rc files and with a
known prompt, so a test can tell when a program has quit and the prompt is back.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from support.clirun import BYOK
from support.env import subprocess_env

PROMPT = "E2E-READY$ "
TMUX = shutil.which("tmux")

needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (CI installs it)")


def byok_command(*args: str) -> str:
    """The shell line that runs the real entry point with this interpreter."""
    return shlex.join([*BYOK, *args])


class Terminal:
    def __init__(self, width: int = 80, height: int = 24, env: dict[str, str] | None = None):
        assert TMUX is not None
        self.socket = f"byok-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        child_env = subprocess_env(**(env or {}))
        child_env["PS1"] = PROMPT
        child_env.pop("NO_COLOR", None)
        child_env.pop("TMUX", None)  # never attach to an enclosing tmux
        self.env = child_env
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", str(width),
            "-y", str(height), "bash --norc --noprofile",
        )  # fmt: skip
        self._tmux("set-option", "-t", "e2e", "status", "off")  # the app gets all 24 rows
        self.run(f"PS1={shlex.quote(PROMPT)}; clear")
        self.wait_for(self.prompt_is_back, "the shell prompt")

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(
            [TMUX or "tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {proc.stderr.strip()}")
        return proc.stdout

    def run(self, line: str) -> None:
        """Type a shell line and press Enter."""
        self._tmux("send-keys", "-t", "e2e", "-l", line)
        self._tmux("send-keys", "-t", "e2e", "Enter")

    def keys(self, *keys: str) -> None:
        """tmux key names: 'n', 'Enter', 'Tab', 'Escape', 'Down', 'C-c'..."""
        for key in keys:
            self._tmux("send-keys", "-t", "e2e", key)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "e2e", "-l", text)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "e2e")

    def size(self) -> tuple[int, int]:
        out = self._tmux("display-message", "-p", "-t", "e2e", "#{pane_width} #{pane_height}")
        w, h = out.split()
        return int(w), int(h)

    def wait_for(
        self, check: Callable[[str], bool] | str, what: str = "", timeout: float = 30
    ) -> str:
        test = (lambda screen: check in screen) if isinstance(check, str) else check
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if test(screen):
                return screen
            time.sleep(0.05)  # a capture is a few ms of tmux; the screen changes any moment
        raise AssertionError(f"timed out waiting for {what or check!r}; screen:\n{screen}")

    def prompt_is_back(self, screen: str) -> bool:
        lines = [line for line in screen.splitlines() if line.strip()]
        return bool(lines) and lines[-1].rstrip() == PROMPT.rstrip()

    def foreground_pids(self) -> list[int]:
        """The processes the pane's shell is running (its children), from /proc or pgrep."""
        shell = int(self._tmux("display-message", "-p", "-t", "e2e", "#{pane_pid}").strip())
        proc = Path("/proc")
        if proc.is_dir():
            kids = []
            for stat in proc.glob("[0-9]*/stat"):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    # the command name is in parentheses and may hold spaces: split after it
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == shell:
                        kids.append(int(stat.parent.name))
            return kids
        out = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._tmux("kill-server")
