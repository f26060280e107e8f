"""`byok demo` in a real terminal: healthy and failing integrations show; q quits cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clirun import byok
from support.tmuxterm import Terminal, byok_command, needs_tmux

pytestmark = needs_tmux


def tokens_used(db: Path) -> int:
    """This month's tokens over every demo integration, read through the real CLI."""
    run = byok("limits", "--json", db=db)
    assert run.code in (0, 1, 2), run.err
    return sum(item["tokens_used_month"] for item in run.json)


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Terminal]:
    # the demo's temp dir goes under this test's own TMPDIR, so cleanup is checkable
    with Terminal(80, 24, env={"TMPDIR": str(tmp_path)}) as terminal:
        yield terminal


def test_demo_shows_healthy_and_failing_and_cleans_up(term: Terminal, tmp_path: Path) -> None:
    user_db = Path(os.environ["XDG_DATA_HOME"]) / "byok" / "byok.json"
    term.run(byok_command("demo"))

    def row(screen: str, name: str, state: str) -> bool:
        return any(name in line and state in line for line in screen.splitlines())

    screen = term.wait_for(
        lambda s: row(s, "prod-openai", "healthy") and row(s, "mistral-eu", "failing"),
        "a healthy and a failing integration",
        timeout=60,
    )
    assert row(screen, "groq-fast", "degraded")  # rate limited
    assert row(screen, "deepseek-dev", "failing")  # no credit
    demo_dirs = [p for p in tmp_path.iterdir() if p.name.startswith("byok-demo-")]
    assert len(demo_dirs) == 1 and (demo_dirs[0] / "byok.json").is_file()
    assert demo_dirs[0].stat().st_mode & 0o777 == 0o700
    # simulated usage flows: the demo's own database shows tokens growing second by second
    demo_db = demo_dirs[0] / "byok.json"
    first = tokens_used(demo_db)
    deadline = time.monotonic() + 20
    while tokens_used(demo_db) <= first and time.monotonic() < deadline:
        time.sleep(0.5)
    assert tokens_used(demo_db) > first
    term.keys("q")
    term.wait_for(term.prompt_is_back, "the shell prompt after q", timeout=30)
    term.run("echo rc=$?")
    term.wait_for("rc=0", "the demo's exit code")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("byok-demo-")]
    assert not user_db.exists()  # the user's own database was never touched


def test_demo_cleans_up_when_terminated(term: Terminal, tmp_path: Path) -> None:
    """SIGTERM (or a closed ssh session's SIGHUP) still removes the demo's temp dir."""
    term.run(byok_command("demo"))
    term.wait_for("prod-openai", "the demo console", timeout=60)
    assert [p for p in tmp_path.iterdir() if p.name.startswith("byok-demo-")]
    children = term.foreground_pids()
    assert len(children) == 1
    os.kill(children[0], signal.SIGTERM)
    term.wait_for(term.prompt_is_back, "the shell prompt after SIGTERM", timeout=30)
    term.run("echo rc=$?")
    # the output line, not the typed command (which holds "rc=" too)
    screen = term.wait_for(
        lambda s: any(line.startswith("rc=") for line in s.splitlines()), "the demo's exit code"
    )
    assert "rc=143" in screen and "Traceback" not in screen
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("byok-demo-")]


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_demo_ends_on_sighup_and_frees_the_fake_providers_port(
    term: Terminal, tmp_path: Path
) -> None:
    """A closed ssh session (SIGHUP): the demo exits, its fake provider stops listening, its
    temp dir goes, and the terminal is the shell's again."""
    term.run(byok_command("demo"))
    term.wait_for("prod-openai", "the demo console", timeout=60)
    [demo_dir] = [p for p in tmp_path.iterdir() if p.name.startswith("byok-demo-")]
    stored = (demo_dir / "byok.json").read_text()  # the samples' base URLs: the fake's port
    ports = {int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)/", stored)}
    assert ports and not any(_port_is_free(port) for port in ports)
    [pid] = term.foreground_pids()
    os.kill(pid, signal.SIGHUP)
    term.wait_for(term.prompt_is_back, "the shell prompt after SIGHUP", timeout=30)
    term.run("echo rc=$?")
    screen = term.wait_for(
        lambda s: any(line.startswith("rc=") for line in s.splitlines()), "the demo's exit code"
    )
    assert "rc=129" in screen and "Traceback" not in screen
    assert all(_port_is_free(port) for port in ports)
    assert not demo_dir.exists()
