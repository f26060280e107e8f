"""`byok test` and `byok log` against the fake provider on 127.0.0.1 (OpenAI's /models route).

The server answers by the key it is sent, so each integration gets a known outcome.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clirun import assert_usage_error, byok, copy_db, fingerprint
from support.env import isolated

from core import HealthCheckResult
from tui.demo.fakeprovider import FakeProviderServer

# The fake provider plays the outcome written in the key: a good key (200), a revoked one (401),
# a rate-limited one (429).
KEYS = {
    "ok": "sk-good@ok@0000000000000000000001",
    "bad": "sk-revoked@401@00000000000000002",
    "busy": "sk-busy@429:7@000000000000000003",
}


@pytest.fixture
def base_url(fake_server: FakeProviderServer) -> str:
    return fake_server.base_url_for("openai")


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, shared_fake_server: FakeProviderServer
) -> Path:
    """The three integrations, added once for the module; each test gets a copy."""
    base_url = shared_fake_server.base_url_for("openai")
    with isolated(tmp_path_factory.mktemp("home")):
        path = tmp_path_factory.mktemp("template") / "byok.json"
        for name in ("ok", "bad", "busy"):
            run = byok("add", name, "--provider", "openai", "--base-url", base_url,
                       "--credential-stdin", db=path, input=KEYS[name] + "\n")  # fmt: skip
            assert run.code == 0, run.err
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path, fake_server: FakeProviderServer) -> Path:
    """A copy of the template; its base URLs point at `fake_server`, reset for this test."""
    return copy_db(template, tmp_path / "byok.json")


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
