"""The console in a real terminal: tmux runs `byok` at 80x24 on a temporary database.

The test types like a person: `n` opens the form, the name and an `env:` credential are typed,
Enter submits; the new integration shows in the list; `q` quits and the shell prompt returns.
The database is then read back through the CLI, so the row on screen is also on disk.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clirun import byok
from support.tmuxterm import Terminal, byok_command, needs_tmux

pytestmark = needs_tmux


@pytest.fixture
def term() -> Iterator[Terminal]:
    with Terminal(80, 24) as terminal:
        yield terminal


def list_json(db: Path) -> dict:
    run = byok("list", "--json", db=db)
    assert run.code == 0, run.err
    return run.json


def test_add_an_integration_through_the_console_form(term: Terminal, tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    assert term.size() == (80, 24)
    term.run(byok_command("--db", str(db)))
    term.wait_for("New", "the console's footer")  # the home screen, with its `n New` key
    term.keys("n")
    term.wait_for("New integration", "the form")
    term.type("e2e-openai")
    term.wait_for(lambda s: any("Name" in ln and "e2e-openai" in ln for ln in s.splitlines()))
    # name -> provider (OpenAI is preselected) -> credential; one key at a time, as a person
    # types, so each focus change has landed before the next key arrives
    for _ in range(2):
        term.keys("Tab")
        time.sleep(0.4)
    term.type("env:E2E_OPENAI_KEY")
    term.wait_for(
        lambda s: any("Credential" in ln and "•" * 18 in ln for ln in s.splitlines()),
        "the masked credential in its field",
    )
    term.keys("Enter")  # submitting a field saves the form
    screen = term.wait_for(
        lambda s: "e2e-openai" in s and "New integration" not in s, "the new row in the list"
    )
    assert "OpenAI" in screen or "openai" in screen
    term.keys("q")
    screen = term.wait_for(term.prompt_is_back, "the shell prompt after q")
    term.run("echo rc=$?")
    term.wait_for("rc=0", "the console's exit code")
    data = list_json(db)
    assert data["total"] == 1
    item = data["items"][0]
    assert (item["name"], item["provider_type"]) == ("e2e-openai", "openai")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_the_console_ends_cleanly_on_sigterm_and_sighup(
    term: Terminal, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """The console (`byok`) killed (SIGTERM) or its ssh session closed (SIGHUP): it exits with the
    signal's code, the terminal restored (the shell's prompt, no traceback)."""
    db = tmp_path / "byok.json"
    assert byok("add", "sig-ollama", "--provider", "ollama", db=db).code == 0
    term.run(byok_command("--db", str(db)))
    term.wait_for("sig-ollama", "the console's list")
    [pid] = term.foreground_pids()
    os.kill(pid, sig)
    term.wait_for(term.prompt_is_back, "the shell prompt after the signal", timeout=30)
    term.run("echo rc=$?")
    screen = term.wait_for(
        lambda s: any(line.startswith("rc=") for line in s.splitlines()), "the exit code"
    )
    assert f"rc={code}" in screen and "Traceback" not in screen
    assert not Path(f"/proc/{pid}").exists()
