"""`byok` with no command, `byok demo` and `byok serve`: the console, here or in a browser.

`serve` runs the console through textual-serve, which starts a fresh `byok` process per browser
session and relays its terminal over a websocket. The child gets the same database and tenant as
this command, so the browser shows exactly what `byok` would show here. The console can change
keys, so every URL carries an access token and a websocket from another site is refused
(`tui.cli.serving`); it binds to 127.0.0.1 by default, and exposing it beyond the machine is an
explicit choice, best made behind a TLS reverse proxy or an ssh tunnel.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tui.cli.args import add_command, port

if TYPE_CHECKING:
    from core.readside import Dashboard
    from tui.cli.args import Subcommands


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub, common, "demo", "open the console on a temporary demo database (no key needed)"
    )
    p.set_defaults(start=start_demo)

    p = add_command(sub, common, "serve", "run the console in a web browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8000, help="port (default 8000)")
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the access token from PATH (0600; default: $BYOK_SERVE_TOKEN, else random)",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="the origin browsers use, behind a reverse proxy (https://byok.example.com)",
    )
    p.add_argument(
        "--no-token",
        action="store_true",
        help="no access token (loopback only: for an authenticating proxy on this machine)",
    )
    p.set_defaults(start=start_serve)


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


def start_console(args: argparse.Namespace) -> int:
    dashboard = _preflight(args.db, args.tenant)
    from tui.app import run_console

    return int(run_console(tenant_id=args.tenant, dashboard=dashboard) or 0)


def start_demo(args: argparse.Namespace) -> int:
    from tui.demo.run import run_demo

    return run_demo()


def console_command(db: str | None, tenant: str) -> str:
    """The shell command textual-serve runs for each session: this Python, this database."""
    argv = [sys.executable, "-m", "tui.cli.main"]
    if db:
        argv += ["--db", str(Path(db).expanduser().resolve())]
    argv += ["--tenant", tenant]
    return shlex.join(argv)


def start_serve(args: argparse.Namespace) -> int:
    from core.paths import SERVE_TOKEN_ENV
    from tui.cli.serving import GuardedServer, access_token

    token, given_by = access_token(args.token_file, args.no_token, args.host, os.environ)
    os.environ.pop(SERVE_TOKEN_ENV, None)  # the console sessions are children: not theirs
    command = console_command(args.db, args.tenant)
    server = GuardedServer(
        command,
        host=args.host,
        port=args.port,
        token=token,
        given_by=given_by,
        public_url=args.public_url,
    )
    server.serve()
    return 0
