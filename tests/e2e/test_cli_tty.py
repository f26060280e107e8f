"""The `byok` subcommands at a real terminal: the no-echo key prompt, rm's confirmation, colour."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clirun import byok
from support.tmuxterm import Terminal, byok_command, needs_tmux

pytestmark = needs_tmux
SECRET = "sk-tty-Hq83nVb2LmZx9Wc4Rt6Y"


@pytest.fixture
def term() -> Iterator[Terminal]:
    with Terminal(80, 24) as terminal:
        yield terminal


def show(db: Path, ref: str) -> dict:
    run = byok("show", ref, "--json", db=db)
    return run.json if run.code == 0 else {}


def test_add_prompts_for_the_key_without_echo(term: Terminal, tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    term.run(byok_command("--db", str(db), "add", "tty-openai", "--provider", "openai"))
    term.wait_for("(not echoed):", "the key prompt")
    term.type(SECRET)
    term.keys("Enter")
    screen = term.wait_for(term.prompt_is_back, "the command to finish")
    assert SECRET not in screen and SECRET[:12] not in screen
    assert "sk-…Rt6Y" in screen  # the detail shows the hint only
    assert show(db, "tty-openai")["credential_source"] == "encrypted"
    assert SECRET.encode() not in db.read_bytes()


def test_rm_asks_first(term: Terminal, tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    term.run(byok_command("--db", str(db), "add", "doomed", "--provider", "ollama"))
    term.wait_for(term.prompt_is_back, "add")
    term.run(byok_command("--db", str(db), "rm", "doomed"))
    term.wait_for("[y/N]", "the confirmation")
    term.type("n")
    term.keys("Enter")
    term.wait_for("not deleted", "the refusal")
    assert show(db, "doomed")
    term.run(byok_command("--db", str(db), "rm", "doomed"))
    term.wait_for(lambda s: s.count("[y/N]") == 2, "the second confirmation")
    term.type("y")
    term.keys("Enter")
    term.wait_for("deleted doomed", "the deletion")
    assert show(db, "doomed") == {}


def test_colour_on_a_terminal_unless_no_color(term: Terminal, tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    term.run(byok_command("--db", str(db), "add", "colourful", "--provider", "ollama"))
    term.wait_for(term.prompt_is_back, "add")
    term.run("clear; echo COLOUR; " + byok_command("--db", str(db), "list"))
    term.wait_for(  # a marker: "colourful" is already on screen from the add
        lambda s: "COLOUR" in s and "colourful" in s and term.prompt_is_back(s), "the list"
    )
    assert "\x1b[" in term._tmux("capture-pane", "-p", "-e", "-t", "e2e")
    term.run("clear; echo PLAIN; NO_COLOR=1 " + byok_command("--db", str(db), "list"))
    term.wait_for(
        lambda s: "PLAIN" in s and "colourful" in s and term.prompt_is_back(s), "the plain list"
    )
    raw = term._tmux("capture-pane", "-p", "-e", "-t", "e2e")
    row = next(line for line in raw.splitlines() if "colourful" in line and "ollama" in line)
    assert "\x1b[" not in row
