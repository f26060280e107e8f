"""`byok test` and `byok log` against a real HTTP server on 127.0.0.1 (OpenAI's /models shape).

The server is a small stdlib one that answers by the key it is sent, so each integration gets a
known outcome: a good key (200), a revoked one (401), a rate-limited one (429).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.clirun import assert_usage_error, byok, fingerprint

from core import HealthCheckResult

KEYS = {
    "ok": "sk-good-000000000000000000000001",
    "bad": "sk-revoked-00000000000000000002",
    "busy": "sk-busy-000000000000000000000003",
}


class Provider(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        if auth == f"Bearer {KEYS['ok']}":
            self._send(200, {"object": "list", "data": [{"id": "gpt-4o-mini"}]})
        elif auth == f"Bearer {KEYS['busy']}":
            self._send(429, {"error": {"code": "rate_limit_exceeded"}}, {"Retry-After": "7"})
        else:
            self._send(401, {"error": {"code": "invalid_api_key", "message": "bad key"}})

    def _send(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def db(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "byok.json"
    for name in ("ok", "bad", "busy"):
        run = byok("add", name, "--provider", "openai", "--base-url", base_url,
                   "--credential-stdin", db=path, input=KEYS[name] + "\n")  # fmt: skip
        assert run.code == 0, run.err
    return path


def test_each_outcome_sets_the_exit_code(db: Path) -> None:
    run = byok("test", "ok", "--json", db=db)
    assert run.code == 0, run.err
    [result] = [HealthCheckResult.model_validate(r) for r in run.json]
    assert (result.health_state, result.reason) == ("healthy", "ok")
    run = byok("test", "busy", "--json", db=db)
    assert run.code == 1 and run.json[0]["reason"] == "rate_limited"
    run = byok("test", "bad", "--json", db=db)
    assert run.code == 2 and run.json[0]["reason"] == "invalid_key"


def test_all_results_as_a_list_and_the_worst_wins(db: Path) -> None:
    run = byok("test", "--json", db=db)
    assert run.code == 2
    assert isinstance(run.json, list) and len(run.json) == 3
    assert {r["reason"] for r in run.json} == {"ok", "invalid_key", "rate_limited"}
    assert byok("test", "ok", "busy", db=db).code == 1
    table = byok("test", db=db)
    assert table.code == 2 and "invalid_key" in table.out
    assert all(len(line) <= 80 for line in table.out.splitlines())
    for key in KEYS.values():
        assert key not in table.out + table.err


def test_disabled_are_skipped_unless_all_and_stale_skips_fresh(db: Path) -> None:
    assert byok("disable", "bad", db=db).code == 0
    run = byok("test", "--json", db=db)
    assert run.code == 1 and len(run.json) == 2
    assert len(byok("test", "--all", "--json", db=db).json) == 3
    run = byok("test", "--stale", "3600", "--json", db=db)
    assert run.code == 0 and run.json == []  # everything was just checked
    assert len(byok("test", "--stale", "0", "--json", db=db).json) == 2


def test_health_log_newest_first(db: Path) -> None:
    byok("test", "ok", db=db)
    byok("test", "bad", db=db)
    run = byok("log", "--json", db=db)
    assert run.code == 0, run.err
    assert [e["reason"] for e in run.json][:2] == ["invalid_key", "ok"]
    only = byok("log", "ok", "--json", "--limit", "5", db=db).json
    assert [e["reason"] for e in only] == ["ok"]
    human = byok("log", db=db)
    assert human.code == 0 and "invalid_key" in human.out


def test_unusable_credential_then_enable_is_refused(tmp_path: Path, base_url: str) -> None:
    db = tmp_path / "byok.json"
    run = byok("add", "envkey", "--provider", "openai", "--base-url", base_url,
               "--credential", "env:BYOK_TEST_MISSING_VAR", db=db)  # fmt: skip
    assert run.code == 0, run.err
    run = byok("test", "envkey", "--json", db=db)
    assert run.code == 2 and run.json[0]["reason"] == "credential_error"
    assert "BYOK_TEST_MISSING_VAR" in run.json[0]["message"]
    assert byok("show", "envkey", "--json", db=db).json["status"] == "error"
    before = fingerprint(db)
    run = byok("enable", "envkey", db=db)
    assert run.code == 65 and "Traceback" not in run.err and "credential" in run.err
    assert fingerprint(db) == before


def test_bad_test_input(db: Path) -> None:
    before = fingerprint(db)
    assert_usage_error(byok("test", "ok", "--all", db=db), "not both")
    assert_usage_error(byok("test", "ghost", db=db), "no integration")
    assert_usage_error(byok("test", "--stale", "-1", db=db), "0 or more")
    assert_usage_error(byok("log", "--limit", "0", db=db), "at least 1")
    assert fingerprint(db) == before
