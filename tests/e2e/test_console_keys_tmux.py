"""Command mode and the keymap file on the real `byok`, in tmux at 80x24.

`:` opens the command line at the bottom; Tab completes `:lim` to `:limits`; Enter opens the
limits screen; an unknown command is refused in words; `:q` quits with the prompt back. A
keymap file in the config directory (XDG_CONFIG_HOME/byok/keymap.toml) moves a key; a broken
one is reported and the default keys stay.
"""

from __future__ import annotations

import os
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


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "byok.json"
    run = byok("add", "payments-svc", "--provider", "ollama", "--rpm", "60", db=path)
    assert run.code == 0, run.err
    return path


def keymap_file(text: str) -> Path:
    """The user's keymap file: where `byok` looks by default (the test's own config dir)."""
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "byok" / "keymap.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def open_command_line(term: Terminal) -> None:
    term.keys(":")
    term.wait_for(
        lambda s: "limits  log  " in s and "  new  " in s, "the command line and its commands"
    )


def test_command_mode_completes_runs_refuses_and_quits(term: Terminal, db: Path) -> None:
    term.run(byok_command("--db", str(db)))
    term.wait_for("payments-svc", "the list")
    open_command_line(term)
    term.type("lim")
    term.keys("Tab")
    term.wait_for(lambda s: any(ln.rstrip() == " :limits" for ln in s.splitlines()), ":limits")
    term.keys("Enter")
    term.wait_for("Limits this month", "the limits screen")
    open_command_line(term)
    term.type("frobnicate")
    term.keys("Enter")
    term.wait_for("Unknown command", "the refusal")
    open_command_line(term)
    term.type("q")
    term.keys("Enter")
    term.wait_for(term.prompt_is_back, "the shell prompt after :q")
    term.run("echo rc=$?")
    term.wait_for("rc=0", "the console's exit code")


def test_keymap_file_moves_a_key_and_a_bad_one_is_reported(term: Terminal, db: Path) -> None:
    keymap_file('"home.limits" = "z"\n')
    term.run(byok_command("--db", str(db)))
    term.wait_for("payments-svc", "the list")
    term.wait_for("Keymap applied", "the file applied (just after the first paint)")
    term.keys("z")
    term.wait_for("Limits this month", "the limits screen, by the file's key")
    term.keys("q")
    term.wait_for(lambda s: "payments-svc" in s and "Limits this month" not in s, "back")
    term.keys("q")
    term.wait_for(term.prompt_is_back, "the shell prompt")

    path = keymap_file('"home.limits" = "z"\n"home.nothing" = "x"\n')
    term.run(byok_command("--db", str(db)))
    term.wait_for("Keymap not applied", "the report of the bad file")
    screen = term.wait_for("not a binding id", "what is wrong with it")
    assert path.name in screen
    term.keys("L")  # the defaults stayed
    term.wait_for("Limits this month", "the limits screen, by the default key")
    term.keys("q", "q")
    term.wait_for(term.prompt_is_back, "the shell prompt")
