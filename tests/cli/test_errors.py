"""A core error is shown by its kind, from one table, in the CLI and in the console alike; the
CLI's own failures keep their codes; the command groups build `byok --help` as before."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from core import IntegrationsFacade, errors
from core.errors import ErrorKind, IntegrationError
from core.readside import Dashboard
from tui.cli.errors import CommandError, UsageError
from tui.cli.main import build_parser, main
from tui.errors import SHOWN, UNEXPECTED

# error, exit code, CLI prefix, the sentence, console title: what people saw before the table
SEEN = [
    (
        errors.ValidationError({"rpm": "must be 0 or more", "name": "cannot be empty"}),
        64,
        "invalid input: ",
        "rpm: must be 0 or more; name: cannot be empty",
        "Invalid input",
    ),
    (
        errors.DuplicateNameError("prod"),
        64,
        "invalid input: ",
        "an integration named 'prod' already exists",
        "Invalid input",
    ),
    (
        errors.InvalidTransitionError("cannot enable: the credential is unusable"),
        65,
        "refused: ",
        "cannot enable: the credential is unusable",
        "Refused",
    ),
    (errors.CredentialError("env:K is not set"), 65, "refused: ", "env:K is not set", "Refused"),
    (
        errors.StoreError("cannot read /x/byok.json: Permission denied", "/x/byok.json"),
        74,
        "database error: ",
        "cannot read /x/byok.json: Permission denied",
        "Database error",
    ),
    (
        errors.StoreError("the file is not JSON", "/x/byok.json"),
        74,
        "database error: ",
        "the file is not JSON (/x/byok.json)",
        "Database error",
    ),
    (IntegrationError("it went wrong"), 65, "", "it went wrong", "Error"),
]
IDS = [f"{type(e).__name__}-{n}" for n, (e, *_) in enumerate(SEEN)]


def _run_failing(
    exc: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[int, str]:
    """`byok list` in this process, with the facade raising `exc`: (exit code, stderr)."""

    async def fail(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(IntegrationsFacade, "list_integrations", fail)
    db = tmp_path / "byok.json"
    Dashboard(db).close()  # `list` does not create a database
    code = main(["--db", str(db), "list"])
    return code, capsys.readouterr().err


class _Notes:
    """Stands in for the app: report_error only calls notify."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def notify(self, text: str, *, title: str, severity: str, timeout: float) -> None:
        self.seen.append((text, title, severity))


def _console_shows(exc: BaseException) -> tuple[str, str, str]:
    from tui.app import ByokApp

    app = _Notes()
    ByokApp.report_error(app, exc)  # type: ignore[arg-type]
    (shown,) = app.seen
    return shown


def test_the_table_covers_every_kind() -> None:
    assert set(SHOWN) == set(ErrorKind)
    assert {s.exit_code for s in SHOWN.values()} | {UNEXPECTED.exit_code} == {64, 65, 70, 74}


@pytest.mark.parametrize(("exc", "code", "prefix", "text", "title"), SEEN, ids=IDS)
def test_the_cli_shows_a_core_error_by_its_kind(
    exc: IntegrationError,
    code: int,
    prefix: str,
    text: str,
    title: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    assert (SHOWN[exc.kind].exit_code, SHOWN[exc.kind].prefix) == (code, prefix)
    assert _run_failing(exc, tmp_path, monkeypatch, capsys) == (code, f"byok: {prefix}{text}\n")


@pytest.mark.parametrize(("exc", "code", "prefix", "text", "title"), SEEN, ids=IDS)
def test_the_console_shows_the_same_sentence_under_the_kinds_title(
    exc: IntegrationError, code: int, prefix: str, text: str, title: str
) -> None:
    assert SHOWN[exc.kind].title == title
    assert _console_shows(exc) == (text, title, SHOWN[exc.kind].severity)


def test_the_console_on_errors_that_are_not_the_cores() -> None:
    assert _console_shows(OSError("disk full")) == ("disk full", "Error", "error")
    assert _console_shows(RuntimeError("boom")) == ("RuntimeError: boom", "Internal error", "error")


@pytest.mark.parametrize(
    ("exc", "code", "err"),
    [
        (UsageError("give REFs or --all, not both"), 64, "byok: give REFs or --all, not both\n"),
        (CommandError("not now", 3), 3, "byok: not now\n"),
        (OSError("No space left on device"), 74, "byok: No space left on device\n"),
        (KeyboardInterrupt(), 130, "byok: interrupted\n"),
        (
            RuntimeError("boom\n  on two lines"),
            70,
            "byok: internal error (RuntimeError): boom on two lines\n"
            "byok: run again with --debug for the traceback\n",
        ),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, BaseException) else str(x)[:10],
)
def test_the_clis_own_failures_keep_their_codes(
    exc: BaseException,
    code: int,
    err: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    assert _run_failing(exc, tmp_path, monkeypatch, capsys) == (code, err)


# `byok --help`'s commands and their help lines, in order, as main.py alone built them (and
# the spend group's, added since)
COMMANDS = [
    ("list", "list integrations, newest first"),
    ("show", "show one integration"),
    ("add", "add an integration"),
    ("edit", "change an integration (only the options given)"),
    ("rm", "delete an integration (its usage and health history are kept)"),
    ("enable", "enable an integration"),
    ("disable", "disable it"),
    ("test", "probe providers now (exit 0 healthy, 1 degraded, 2 failing; the worst counts)"),
    ("log", "the health log, newest first"),
    (
        "limits",
        "usage against limits this month (exit 0 under 80%, 1 at 80% or rate limit reached, "
        "2 at 100%)",
    ),
    ("usage", "record or import usage"),
    ("check", "may this call go ahead? (exit 0 allowed, 1 warned or throttled, 2 blocked)"),
    (
        "alerts",
        "alerts, newest first: usage (80% and 100% of a limit) and, where `byok watch` runs, "
        "health, runway and drift; `alerts test CHANNEL` sends a test message",
    ),
    ("account", "provider accounts (admin keys) for spend sync"),
    ("sync", "read usage, cost and balances from the provider accounts"),
    ("spend", "recorded vs provider-reported spend per day, balances"),
    ("watch", "keep watch: probe stale integrations, deliver alerts, serve Prometheus metrics"),
    ("demo", "open the console on a temporary demo database (no key needed)"),
    ("serve", "run the console in a web browser (textual-serve)"),
]


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    return [(c.dest, (c.help or "") % {}) for c in _subcommands(parser)._choices_actions]


def test_the_groups_build_the_same_command_list() -> None:
    parser = build_parser()
    assert _commands(parser) == COMMANDS
    text = " ".join(parser.format_help().split())
    places = [text.index(f" {name} {help_text}") for name, help_text in COMMANDS]
    assert places == sorted(places)
    assert _commands(_subcommands(parser).choices["usage"]) == [
        ("record", "record one call"),
        ("import", "import a JSON Lines usage file"),
    ]
