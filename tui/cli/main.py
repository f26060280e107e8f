"""The `byok` command: the console with no argument, subcommands for scripts, cron and monitoring.

Here: the parser, built from the command groups (`integrations`, `health`, `usage`, `console`;
each module holds its parsers and its handlers), the dispatch, and the one place a failure
becomes a line on stderr and an exit code. Exit codes are part of the interface (monitoring
reads them):

* `test`, `limits`, `check`: 0 healthy/allowed, 1 degraded/warned/throttled, 2 failing/blocked
  (the worst of several results);
* 64 (EX_USAGE) for a usage error or invalid input, argparse's own errors included, and for a
  REF that names no integration; nothing is changed;
* 65 (EX_DATAERR) for a refused change (enabling an integration whose credential is unusable, a
  credential that cannot be resolved) and for an import with bad lines;
* 74 (EX_IOERR) when the database cannot be read or written (the message names the file);
* 70 (EX_SOFTWARE) for anything unexpected; 130 after Ctrl+C.

Every error is one line on stderr (`byok: <what failed>: <why>`), with a traceback only under
`--debug`. A core error is shown by its kind, from the table in `tui.errors` that the console
uses too. Secrets never come from argv: see `tui.cli.credentials`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Sequence

from core import __version__
from core.errors import IntegrationError
from tui.cli import console, health, integrations, spend, usage, watch
from tui.cli import output as fmt
from tui.cli.args import ByokArgumentParser, global_options
from tui.cli.errors import CommandError, UsageError
from tui.errors import EX_INTERRUPTED, EX_IOERR, EX_USAGE, SHOWN, UNEXPECTED, sentence

# in the order `byok --help` lists them
GROUPS = (integrations, health, usage, spend, watch, console)


def build_parser() -> ByokArgumentParser:
    common = ByokArgumentParser(add_help=False)
    global_options(common, top=False)

    parser = ByokArgumentParser(
        prog="byok",
        description="Manage bring-your-own-key LLM provider integrations. With no command, "
        "start the console.",
        epilog="Exit codes: 0 ok/healthy/allowed, 1 degraded/warned/throttled, "
        "2 failing/blocked, 64 usage error or invalid input, 65 refused, 74 database error.",
    )
    parser.add_argument("--version", action="version", version=f"byok {__version__}")
    global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ByokArgumentParser)
    for group in GROUPS:
        group.register(sub, common)
    return parser


def _fail(exc: BaseException, debug: bool, code: int, prefix: str = "", text: str = "") -> int:
    """Say what failed in one line on stderr (the traceback too under --debug); `code` back."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    line = " ".join((text or str(exc)).split()) or type(exc).__name__
    fmt.say(f"byok: {prefix}{line}", sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run `byok`; returns the exit code (the console script exits with it)."""
    for stream in (sys.stdout, sys.stderr):
        # a cron job's locale may not encode "…" or a name's accents: never die on printing
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if args.tenant is None:
        args.tenant = os.environ.get("BYOK_TENANT") or "default"
    if args.db is None:
        args.db = os.environ.get("BYOK_DB") or None
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        sys.stderr.write("byok: interrupted\n")
        return EX_INTERRUPTED
    except UsageError as exc:
        return _fail(exc, debug, EX_USAGE)
    except CommandError as exc:
        return _fail(exc, debug, exc.code)
    except IntegrationError as exc:
        shown = SHOWN[exc.kind]
        return _fail(exc, debug, shown.exit_code, shown.prefix, sentence(exc))
    except OSError as exc:
        return _fail(exc, debug, EX_IOERR)
    except Exception as exc:
        code = _fail(
            exc, debug, UNEXPECTED.exit_code, f"{UNEXPECTED.prefix} ({type(exc).__name__}): "
        )
        if not debug:
            sys.stderr.write("byok: run again with --debug for the traceback\n")
        return code


def _dispatch(args: argparse.Namespace) -> int:
    if args.command is None:
        return console.start_console(args)
    if "handler" in args:  # a command on the facade; the console group's commands `start`
        return asyncio.run(_with_facade(args))
    return int(args.start(args))


async def _with_facade(args: argparse.Namespace) -> int:
    from core.facade import IntegrationsFacade

    # Only `add` creates a database: any other command on a missing one is a typo (or a lost
    # file) to report, not an empty database to create and read as "all green".
    facade = IntegrationsFacade(args.db or None, create=args.handler is integrations.cmd_add)
    try:
        return int(await args.handler(facade, args))
    finally:
        await facade.aclose()


if __name__ == "__main__":
    sys.exit(main())
