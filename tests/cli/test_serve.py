"""`byok serve` answers HTTP on loopback, only with its access token and only to its own origin,
and stops cleanly on SIGTERM. Over real sockets, to a real `byok serve` process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from support.clirun import BYOK, assert_usage_error, byok
from support.env import subprocess_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TOKEN = "test-token-" + "x" * 40  # $BYOK_SERVE_TOKEN for the served tests


@contextlib.contextmanager
def serving(
    db: Path, *args: str, token: str | None = TOKEN
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    db.parent.mkdir(parents=True, exist_ok=True)
    log = (db.parent / "serve.log").open("w")  # a file, not a pipe nobody drains
    env = subprocess_env(BYOK_SERVE_TOKEN=token) if token else subprocess_env()
    proc = subprocess.Popen(
        [*BYOK, "--db", str(db), "serve", "--port", str(port), *args],
        env=env,
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


def wait_until_up(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.log_path.read_text()  # type: ignore[attr-defined]
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("byok serve never listened")


def get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def test_serve_answers_http_get_on_loopback(tmp_path: Path) -> None:
    with serving(tmp_path / "byok.json") as (port, proc):
        wait_until_up(port, proc)
        status, body, headers = get(f"http://127.0.0.1:{port}/{TOKEN}/")
        assert status == 200
        # the page's terminal connects back here, under the token
        assert f"ws://127.0.0.1:{port}/{TOKEN}/ws" in body
        assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Frame-Options"] == "DENY"
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
        url = f"ws://127.0.0.1:{port}/{TOKEN}/ws?width=100&height=30"
        async with aiohttp.ClientSession() as client:
            for _ in range(100):  # the server may still be starting
                try:
                    ws = await client.ws_connect(url, origin=f"http://127.0.0.1:{port}")
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


# -- the guard: a token an attacker cannot guess, and the served origin only ---------------------


async def _ws_status(url: str, origin: str | None) -> int:
    """101 when the websocket opens, else the HTTP status that refused it."""
    import aiohttp

    async with aiohttp.ClientSession() as client:
        try:
            ws = await client.ws_connect(url, origin=origin)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101


def test_without_the_token_nothing_is_served(tmp_path: Path) -> None:
    wrong = TOKEN[:-1] + "y"  # one character off, same length
    with serving(tmp_path / "byok.json") as (port, proc):
        wait_until_up(port, proc)
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/ws", "/static/js/textual.js", f"/{wrong}/", f"/{wrong}/ws", "/x/y"):
            status, body, _ = get(base + path)
            assert status == 403 and "token" in body, path
            assert TOKEN not in body
        assert get(f"{base}/{TOKEN}/static/js/textual.js")[0] == 200
        assert get(f"{base}/{TOKEN}")[0] == 200  # redirected to the page
        ws = f"ws://127.0.0.1:{port}"
        assert asyncio.run(_ws_status(f"{ws}/ws", base)) == 403
        assert asyncio.run(_ws_status(f"{ws}/{wrong}/ws", base)) == 403
    assert TOKEN not in proc.log_path.read_text()  # type: ignore[attr-defined]  # access log


def test_a_websocket_from_another_origin_is_refused(tmp_path: Path) -> None:
    with serving(tmp_path / "byok.json") as (port, proc):
        wait_until_up(port, proc)
        url = f"ws://127.0.0.1:{port}/{TOKEN}/ws"
        for origin in ("http://evil.example", f"http://127.0.0.1:{port + 1}", "null", None):
            assert asyncio.run(_ws_status(url, origin)) == 403, origin
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            assert asyncio.run(_ws_status(url, origin)) == 101, origin
        # a page of another origin cannot read the console's page either
        assert get(f"http://127.0.0.1:{port}/{TOKEN}/", Origin="http://evil.example")[0] == 403


def test_a_random_token_is_printed_at_start(tmp_path: Path) -> None:
    with serving(tmp_path / "byok.json", token=None) as (port, proc):
        wait_until_up(port, proc)
        deadline = time.monotonic() + 10
        log = ""
        while f"127.0.0.1:{port}/" not in log and time.monotonic() < deadline:
            time.sleep(0.1)
            log = proc.log_path.read_text()  # type: ignore[attr-defined]
        printed = log.split(f"http://127.0.0.1:{port}/", 1)[1].split("/", 1)[0]
        assert len(printed) >= 40 and printed.replace("-", "").replace("_", "").isalnum()
        assert get(f"http://127.0.0.1:{port}/{printed}/")[0] == 200
        assert get(f"http://127.0.0.1:{port}/")[0] == 403


def test_a_token_from_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "serve.token"
    token_file.write_text("file-token-" + "z" * 40 + "\n")
    token_file.chmod(0o600)
    with serving(tmp_path / "byok.json", "--token-file", str(token_file), token=None) as (
        port,
        proc,
    ):
        wait_until_up(port, proc)
        assert get(f"http://127.0.0.1:{port}/file-token-{'z' * 40}/")[0] == 200
        assert get(f"http://127.0.0.1:{port}/{TOKEN}/")[0] == 403
    token_file.chmod(0o644)
    assert_usage_error(byok("serve", "--token-file", str(token_file)), "other users")


def test_serve_refuses_to_start_unprotected_or_with_a_weak_token(tmp_path: Path) -> None:
    assert_usage_error(byok("serve", "--no-token", "--host", "192.0.2.7"), "--no-token")
    assert_usage_error(
        byok("serve", "--no-token", "--host", "0.0.0.0", "--public-url", "https://b.example"),
        "--no-token",
    )
    assert_usage_error(byok("serve", "--host", "0.0.0.0"), "--public-url")
    assert_usage_error(byok("serve", "--public-url", "https://b.example/path"), "--public-url")
    weak = byok("serve", env={"BYOK_SERVE_TOKEN": "letmein"})
    assert_usage_error(weak, "BYOK_SERVE_TOKEN")
    assert "letmein" not in weak.err
    missing = tmp_path / "none.token"
    assert_usage_error(byok("serve", "--token-file", str(missing)), "does not exist")


def test_the_serve_token_is_never_a_credential(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    result = byok("add", "t", "--provider", "openai", "--credential", "env:BYOK_SERVE_TOKEN", db=db)
    assert_usage_error(result, "BYOK_SERVE_TOKEN")
