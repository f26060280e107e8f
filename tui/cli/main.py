"""The `byok` command: the console with no argument, subcommands for scripts, cron and monitoring.

Exit codes are part of the interface (monitoring reads them):

* `test`, `limits`, `check`: 0 healthy/allowed, 1 degraded/warned/throttled, 2 failing/blocked
  (the worst of several results);
* 64 (EX_USAGE) for a usage error or invalid input, argparse's own errors included, and for a
  REF that names no integration; nothing is changed;
* 65 (EX_DATAERR) for a refused change (enabling an integration whose credential is unusable, a
  credential that cannot be resolved) and for an import with bad lines;
* 74 (EX_IOERR) when the database cannot be read or written (the message names the file);
* 70 (EX_SOFTWARE) for anything unexpected; 130 after Ctrl+C.

Every error is one line on stderr (`byok: <what failed>: <why>`), with a traceback only under
`--debug`. Secrets never come from argv: see `tui.cli.credentials`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from core import (
    CredentialError,
    DuplicateNameError,
    IntegrationError,
    InvalidTransitionError,
    ProviderType,
    StoreError,
    ValidationError,
    __version__,
)
from core.enums import IntegrationStatus
from tui.cli.errors import (
    EX_DATAERR,
    EX_INTERRUPTED,
    EX_IOERR,
    EX_SOFTWARE,
    EX_USAGE,
    CommandError,
    UsageError,
)

if TYPE_CHECKING:
    from core.readside import Dashboard


class ByokArgumentParser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; 2 means "failing" to monitoring here, so use 64."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number, 0 or more")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (1..65535)")
    return value


PROVIDERS = [p.value for p in ProviderType]
STATUSES = [s.value for s in IntegrationStatus]


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
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


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _integration_options(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    cred = parser.add_argument_group("credential (a raw key is never taken from the command line)")
    cred.add_argument(
        "--credential",
        metavar="REF",
        help="a reference only: env:NAME (read from the environment when used) or "
        "file:/absolute/path (read when used, e.g. a mounted secret)",
    )
    cred.add_argument(
        "--credential-stdin",
        action="store_true",
        help="read a raw key from the first line of standard input (it is stored encrypted)",
    )
    cred.add_argument(
        "--credential-prompt",
        action="store_true",
        help="ask for a raw key without echo"
        + (
            " (the default when the provider needs a key and stdin is a terminal)" if adding else ""
        ),
    )
    parser.add_argument("--model", metavar="M", help="the default model")
    if not adding:
        parser.add_argument("--clear-model", action="store_true", help="remove the default model")
    parser.add_argument("--base-url", metavar="URL", help="the provider's API root (endpoint)")
    parser.add_argument("--api-version", metavar="V", help="API version (azure_openai)")
    parser.add_argument("--region", metavar="R", help="AWS region (bedrock)")
    parser.add_argument(
        "--budget-cents", metavar="N", type=_non_negative_int, help="monthly budget (0 = none)"
    )
    parser.add_argument(
        "--token-limit", metavar="N", type=_non_negative_int, help="monthly tokens (0 = none)"
    )
    parser.add_argument(
        "--rpm", metavar="N", type=_non_negative_int, help="requests per minute (0 = none)"
    )
    _json_option(parser)


def build_parser() -> ByokArgumentParser:
    common = ByokArgumentParser(add_help=False)
    _global_options(common, top=False)

    parser = ByokArgumentParser(
        prog="byok",
        description="Manage bring-your-own-key LLM provider integrations. With no command, "
        "start the console.",
        epilog="Exit codes: 0 ok/healthy/allowed, 1 degraded/warned/throttled, "
        "2 failing/blocked, 64 usage error or invalid input, 65 refused, 74 database error.",
    )
    parser.add_argument("--version", action="version", version=f"byok {__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ByokArgumentParser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    p = command("list", "list integrations, newest first")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--provider", choices=PROVIDERS, metavar="P", help=", ".join(PROVIDERS))
    p.add_argument("--search", metavar="Q", help="match name, provider or model")
    _json_option(p)

    p = command("show", "show one integration")
    p.add_argument("ref", metavar="REF", help="integration id or name")
    _json_option(p)

    p = command("add", "add an integration")
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--provider", required=True, choices=PROVIDERS, metavar="P", help=", ".join(PROVIDERS)
    )
    _integration_options(p, adding=True)

    p = command("edit", "change an integration (only the options given)")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--name", metavar="NAME", help="rename it")
    _integration_options(p, adding=False)

    p = command("rm", "delete an integration (its usage and health history are kept)")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _json_option(p)

    for name, text in (("enable", "enable an integration"), ("disable", "disable it")):
        p = command(name, text)
        p.add_argument("ref", metavar="REF")
        _json_option(p)

    p = command(
        "test",
        "probe providers now (exit 0 healthy, 1 degraded, 2 failing; the worst counts)",
    )
    p.add_argument("refs", metavar="REF", nargs="*")
    p.add_argument("--all", action="store_true", help="every integration, disabled ones included")
    p.add_argument(
        "--stale",
        metavar="SECONDS",
        type=_non_negative_int,
        help="only those not checked in the last SECONDS",
    )
    _json_option(p)

    p = command("log", "the health log, newest first")
    p.add_argument("ref", metavar="REF", nargs="?")
    p.add_argument("--limit", metavar="N", type=_positive_int, default=20)
    _json_option(p)

    p = command(
        "limits",
        "usage against limits this month (exit 0 under 80%%, 1 at 80%% or rate limit "
        "reached, 2 at 100%%)",
    )
    p.add_argument("ref", metavar="REF", nargs="?")
    _json_option(p)

    usage = command("usage", "record or import usage")
    usage_sub = usage.add_subparsers(
        dest="usage_command", metavar="ACTION", parser_class=ByokArgumentParser, required=True
    )
    p = usage_sub.add_parser(
        "record", help="record one call", description="record one call", parents=[common]
    )
    p.add_argument("ref", metavar="REF")
    p.add_argument("--model", required=True, metavar="M")
    p.add_argument("--input", required=True, type=_non_negative_int, metavar="N")
    p.add_argument("--output", required=True, type=_non_negative_int, metavar="N")
    p.add_argument("--cost-cents", type=_non_negative_float, metavar="C")
    p.add_argument("--call-id", metavar="ID", help="idempotency key: a repeat counts once")
    _json_option(p)
    p = usage_sub.add_parser(
        "import",
        help="import a JSON Lines usage file",
        description="import a JSON Lines usage file (exit 65 when some lines are bad)",
        parents=[common],
    )
    p.add_argument("file", metavar="FILE.jsonl", help="a path, or - for standard input")
    _json_option(p)

    p = command(
        "check",
        "may this call go ahead? (exit 0 allowed, 1 warned or throttled, 2 blocked)",
    )
    p.add_argument("ref", metavar="REF")
    p.add_argument("--tokens", type=_non_negative_int, default=0, metavar="N")
    p.add_argument("--cost-cents", type=_non_negative_float, default=0.0, metavar="C")
    _json_option(p)

    p = command("alerts", "usage alerts (80%% and 100%% of a limit), newest first")
    p.add_argument("ref", metavar="REF", nargs="?")
    p.add_argument("--limit", metavar="N", type=_positive_int, default=50)
    _json_option(p)

    command("demo", "open the console on a temporary demo database (no key needed)")

    p = command("serve", "run the console in a web browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    return parser


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def _report(prefix: str, exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"byok: {prefix}{_message(exc)}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `byok`; returns the exit code (the console script exits with it)."""
    for stream in (sys.stdout, sys.stderr):
        # a cron job's locale may not encode "…" or a name's accents: never die on printing
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if args.tenant is None:
        args.tenant = os.environ.get("BYOK_TENANT") or "default"
    if args.db is None:
        args.db = os.environ.get("BYOK_DB") or None
    try:
        return _dispatch(args)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("byok: interrupted\n")
        return EX_INTERRUPTED
    except UsageError as exc:
        _report("", exc, debug)
        return EX_USAGE
    except CommandError as exc:
        _report("", exc, debug)
        return exc.code
    except (ValidationError, DuplicateNameError) as exc:
        _report("invalid input: ", exc, debug)
        return EX_USAGE
    except StoreError as exc:
        text = _message(exc)
        if exc.path and exc.path not in text:
            text = f"{text} ({exc.path})"
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        sys.stderr.write(f"byok: database error: {text}\n")
        return EX_IOERR
    except (InvalidTransitionError, CredentialError) as exc:
        _report("refused: ", exc, debug)
        return EX_DATAERR
    except IntegrationError as exc:
        _report("", exc, debug)
        return EX_DATAERR
    except OSError as exc:
        _report("", exc, debug)
        return EX_IOERR
    except Exception as exc:
        _report(f"internal error ({type(exc).__name__}): ", exc, debug)
        if not debug:
            sys.stderr.write("byok: run again with --debug for the traceback\n")
        return EX_SOFTWARE


def _preflight(db: str | None, tenant: str) -> Dashboard:
    """Open the database and read it once before the console takes over the terminal, so a bad
    tenant or an unreadable file is a one-line error and an exit code, not a screen. The light
    Dashboard, so that the console's first paint does not wait for the whole core to load."""
    from core.readside import Dashboard

    dashboard = Dashboard(db)
    try:
        dashboard.rows(tenant)
    except BaseException:
        dashboard.close()
        raise
    return dashboard


def _dispatch(args: argparse.Namespace) -> int:
    if args.command is None:
        dashboard = _preflight(args.db, args.tenant)
        from tui.app import run_console

        return int(run_console(tenant_id=args.tenant, dashboard=dashboard) or 0)
    if args.command == "demo":
        from tui.demo.run import run_demo

        return run_demo()
    if args.command == "serve":
        from tui.cli.serve import serve

        return serve(db=args.db, tenant=args.tenant, host=args.host, port=args.port)
    from tui.cli.commands import run

    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
