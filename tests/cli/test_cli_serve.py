"""`byok serve` answers HTTP on loopback and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from clirun import BYOK, assert_usage_error, byok
from conftest import subprocess_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_http_get_on_loopback(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    port = free_port()
    proc = subprocess.Popen(
        [*BYOK, "--db", str(db), "serve", "--port", str(port)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
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
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_serve_console_command_keeps_db_and_tenant(tmp_path: Path) -> None:
    from tui.cli_serve import console_command

    command = console_command(str(tmp_path / "my db.json"), "acme")
    assert "--tenant acme" in command and f"'{tmp_path / 'my db.json'}'" in command


def test_serve_rejects_a_bad_port() -> None:
    assert_usage_error(byok("serve", "--port", "70000"), "port")
    assert_usage_error(byok("serve", "--port", "0"), "port")
