"""What the `byok` command groups share in their parsers: the parser class, argument types and
the options every command takes."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NoReturn

from tui.errors import EX_USAGE

if TYPE_CHECKING:
    # add_subparsers() returns this private class; its name is needed only to type the groups
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


class ByokArgumentParser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; 2 means "failing" to monitoring here, so use 64."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number, 0 or more")
    return value


def port(text: str) -> int:
    value = non_negative_int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (1..65535)")
    return value


def global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Global options, accepted before or after the subcommand (`byok list --db x`)."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=default,
        help="the database file (env BYOK_DB; default: byok.json in the user data directory)",
    )
    parser.add_argument(
        "--tenant",
        metavar="T",
        default=default,
        help="the tenant to work in (env BYOK_TENANT; default: default)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show a traceback when something fails",
    )


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def history_options(parser: argparse.ArgumentParser, *, limit: int) -> None:
    """A newest-first history (the health log, the alerts): of one REF or of all, --limit N."""
    parser.add_argument("ref", metavar="REF", nargs="?")
    parser.add_argument("--limit", metavar="N", type=positive_int, default=limit)
    json_option(parser)


def add_command(
    sub: Subcommands,
    common: argparse.ArgumentParser,
    name: str,
    help_text: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A subcommand that takes the global options too; its description is its help line."""
    return sub.add_parser(
        name, help=help_text, description=description or help_text, parents=[common]
    )
