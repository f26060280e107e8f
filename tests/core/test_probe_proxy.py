"""Probes through a proxy from the environment (`probe_trust_env`, on by default): HTTP_PROXY
with its credentials, NO_PROXY, and the option off; a real forward proxy on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.providers import key_for

from core import HealthState, IntegrationsFacade

UPSTREAM = "http://api.upstream.invalid/v1"  # resolvable only by the proxy


class Proxy:
    """Answers every request itself, as a forward proxy would relay it, and records it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, self.headers.get("proxy-authorization")))
                body = json.dumps({"object": "list", "data": [{"id": "gpt-4o"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.port = self.httpd.server_address[1]


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    yield p
    p.httpd.shutdown()


async def _probe(db_path: Path, **options: Any) -> Any:
    f = IntegrationsFacade(db_path, **options)
    try:
        made = await f.create_integration(
            "t1", name="via-proxy", provider_type="openai", credential=key_for("ok"),
            config={"base_url": UPSTREAM},
        )  # fmt: skip
        return await f.test_credentials("t1", made.id)
    finally:
        await f.aclose()


async def test_a_probe_goes_through_the_environments_proxy_with_its_credentials(
    db_path: Path, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://ops:s3cret@127.0.0.1:{proxy.port}")
    result = await _probe(db_path)
    assert result.health_state is HealthState.HEALTHY, result
    ((target, auth),) = proxy.seen
    assert target == f"{UPSTREAM}/models"  # the absolute URI a forward proxy is sent
    assert auth == "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert "s3cret" not in (result.message or "")


async def test_no_proxy_and_the_option_off_go_direct(
    db_path: Path, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "api.upstream.invalid")
    bypassed = await _probe(db_path)
    assert bypassed.reason == "unreachable" and proxy.seen == []  # went direct: no such host
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy", raising=False)
    off = await _probe(db_path.with_name("other.json"), probe_trust_env=False)
    assert off.reason == "unreachable" and proxy.seen == []
