"""Every `byok` output is safe for a terminal, also for a database written by an older version
that stored raw control characters (issue 12, item 6: defence in depth on output)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clirun import Run, byok, copy_db
from support.text import unsafe

from core.health.log import encode
from tui.demo.fakeprovider import FakeProviderServer

ATTACK = "\x1b]52;c;c2VjcmV0\x07\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil\u2066\x00\u2028"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        yield s


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, server: FakeProviderServer) -> Path:
    """A database whose stored text carries escape sequences, as an older byok wrote them."""
    db = tmp_path_factory.mktemp("poisoned") / "data" / "byok.json"
    run = byok("add", "old", "--provider", "openai", "--credential-stdin", "--model", "gpt-4o",
               "--budget-cents", "100", "--base-url", server.base_url_for("openai"), db=db,
               input="sk-test@ok@00000000000000000000\n")  # fmt: skip
    assert run.code == 0, run.err
    assert byok("test", "old", db=db).code == 0
    assert byok("usage", "record", "old", "--model", "gpt-4o", "--input", "10", "--output", "5",
                "--cost-cents", "90", db=db).code == 0  # fmt: skip
    data = json.loads(db.read_text())
    for doc in data["integrations"].values():
        doc.update(name=f"old{ATTACK}", health_message=ATTACK, health_reason=f"ok{ATTACK}",
                   default_model=f"gpt-4o{ATTACK}")  # fmt: skip
    db.write_text(json.dumps(data))
    for segment in db.with_name("byok.health.d").glob("*.jsonl"):  # checksummed lines
        lines = segment.read_bytes().splitlines()
        entries = [json.loads(line.partition(b" ")[2]) for line in lines]
        for entry in entries:
            entry.update(message=ATTACK, integration_name=ATTACK, reason=ATTACK)
        segment.write_bytes(b"".join(encode(entry) for entry in entries))
    return db


@pytest.fixture
def poisoned(template: Path, tmp_path: Path) -> Path:
    return copy_db(template, tmp_path / "data" / "byok.json")


def assert_safe(run: Run) -> None:
    assert "Traceback" not in run.err, run.err
    assert unsafe(run.out, keep="\n") == [], repr(run.out)
    assert unsafe(run.err, keep="\n") == [], repr(run.err)


@pytest.mark.parametrize("as_json", [(), ("--json",)], ids=["text", "json"])
def test_no_read_command_prints_a_control_character(
    poisoned: Path, as_json: tuple[str, ...]
) -> None:
    for args in (("list",), ("show", "old"), ("log",), ("limits",), ("alerts",), ("check", "old")):
        assert_safe(byok(*args, *as_json, db=poisoned))


def test_messages_and_errors_print_no_control_character(poisoned: Path) -> None:
    for args in (("disable", "old"), ("enable", "old"),
                 ("show", "old" + ATTACK.replace("\x00", "") + "x")):  # fmt: skip
        assert_safe(byok(*args, db=poisoned))


def test_json_output_shows_stored_escapes_visibly(poisoned: Path) -> None:
    run = byok("show", "old", "--json", db=poisoned)
    assert run.code == 0, run.err
    assert run.json["health_message"].startswith("\\x1b]52;c;")


def test_test_and_rm_print_no_control_character(poisoned: Path) -> None:
    for args in (("test", "--all"), ("test", "--all", "--json"), ("rm", "old", "--yes")):
        assert_safe(byok(*args, db=poisoned))
