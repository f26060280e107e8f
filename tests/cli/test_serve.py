"""`byok serve` answers HTTP on loopback and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from support.clirun import BYOK, assert_usage_error, byok
from support.env import subprocess_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(db: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    db.parent.mkdir(parents=True, exist_ok=True)
    log = (db.parent / "serve.log").open("w")  # a file, not a pipe nobody drains
    proc = subprocess.Popen(
        [*BYOK, "--db", str(db), "serve", "--port", str(port)],
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.log_path = db.parent / "serve.log"  # type: ignore[attr-defined]
    try:
        yield port, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


def test_serve_answers_http_get_on_loopback(tmp_path: Path) -> None:
    with serving(tmp_path / "byok.json") as (port, proc):
        deadline = time.monotonic() + 30
        body = ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.log_path.read_text()  # type: ignore[attr-defined]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    assert resp.status == 200
                    body = resp.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert f"ws://127.0.0.1:{port}/ws" in body  # the page's terminal connects back here
        # bound to loopback only by default: another local address is refused
        with socket.socket() as sock:
            sock.bind(("127.0.0.2", 0))
            assert sock.connect_ex(("127.0.0.2", port)) != 0
    assert proc.returncode is not None


def test_a_browser_session_runs_the_console_on_the_same_database(tmp_path: Path) -> None:
    """What a browser does: open the websocket; the console's screen arrives with our row."""
    import aiohttp

    db = tmp_path / "byok.json"
    assert byok("add", "served-over-http", "--provider", "ollama", db=db).code == 0

    async def session(port: int) -> str:
        seen = ""
        url = f"ws://127.0.0.1:{port}/ws?width=100&height=30"
        async with aiohttp.ClientSession() as client:
            for _ in range(100):  # the server may still be starting
                try:
                    ws = await client.ws_connect(url)
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
            else:
                raise AssertionError("the websocket never opened")
            async with ws:
                deadline = time.monotonic() + 40
                while "served-over-http" not in seen and time.monotonic() < deadline:
                    try:
                        msg = await ws.receive(timeout=2)
                    except TimeoutError:
                        continue
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        seen += msg.data.decode("utf-8", "replace")
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        seen += msg.data
                    elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
        return seen

    with serving(db) as (port, _proc):
        seen = asyncio.run(session(port))
    assert "served-over-http" in seen


def test_serve_console_command_keeps_db_and_tenant(tmp_path: Path) -> None:
    from tui.cli.console import console_command

    command = console_command(str(tmp_path / "my db.json"), "acme")
    assert "--tenant acme" in command and f"'{tmp_path / 'my db.json'}'" in command


def test_serve_rejects_a_bad_port() -> None:
    assert_usage_error(byok("serve", "--port", "70000"), "port")
    assert_usage_error(byok("serve", "--port", "0"), "port")
