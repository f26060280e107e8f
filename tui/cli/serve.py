"""`byok serve`: the console in a web browser through textual-serve.

textual-serve runs a fresh `byok` process per browser session and relays its terminal over a
websocket. The child gets the same database and tenant as this command, so the browser shows
exactly what `byok` would show here. It binds to 127.0.0.1 by default: the console can change
keys, so exposing it beyond the machine is an explicit choice (`--host 0.0.0.0`), best made
behind an authenticating reverse proxy or an ssh tunnel.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def console_command(db: str | None, tenant: str) -> str:
    """The shell command textual-serve runs for each session: this Python, this database."""
    argv = [sys.executable, "-m", "tui.cli.main"]
    if db:
        argv += ["--db", str(Path(db).expanduser().resolve())]
    argv += ["--tenant", tenant]
    return shlex.join(argv)


def serve(*, db: str | None, tenant: str, host: str, port: int) -> int:
    from textual_serve.server import Server

    server = Server(console_command(db, tenant), host=host, port=port, title="byok console")
    server.serve()
    return 0
