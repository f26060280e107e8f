"""`byok account`, `byok sync`, `byok spend` as a script runs them, against the fake provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.clirun import byok

from tui.demo.fakeadmin import Use
from tui.demo.fakeprovider import FakeProviderServer

KEY = "sk-proj-" + "k" * 40 + "9876"
ADMIN = "sk-admin-" + "s" * 40 + "cret"


def test_account_add_list_sync_spend_rm(db_path: Path, own_fake_server: FakeProviderServer) -> None:
    server = own_fake_server
    server.admin.openai_keys = [("proj_1", "key_K", "sk-pro...9876")]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    server.admin.usage["openai"] = [Use(now - timedelta(hours=1), "key_K", "gpt-4o", 1000, 10)]
    assert byok("add", "prod", "--provider", "openai", "--credential-stdin", db=db_path,
                input=KEY + "\n").code == 0  # fmt: skip
    url = server.base_url_for("openai")

    raw = byok("account", "add", "org", "--provider", "openai", "--credential", ADMIN, db=db_path)
    assert raw.code == 64 and ADMIN not in raw.err  # a raw key on argv is refused
    added = byok("account", "add", "org", "--provider", "openai", "--credential-stdin",
                 "--base-url", url, "--json", db=db_path, input=ADMIN + "\n")  # fmt: skip
    assert added.code == 0, added.err
    assert added.json["credential_hint"] == "sk-…cret"
    listed = byok("account", "list", "--json", db=db_path)
    assert [a["name"] for a in listed.json] == ["org"]
    assert ADMIN not in listed.out

    synced = byok("sync", "--days", "2", "--json", db=db_path)
    assert synced.code == 0, synced.err
    [report] = synced.json
    assert report["ok"] and [x["provider_key_id"] for x in report["linked"]] == ["key_K"]

    spent = byok("spend", "prod", "--json", db=db_path)
    assert spent.code == 0, spent.err
    rows = spent.json["days"]
    assert {
        "integration_id", "period_start", "period_end", "recorded_cents", "reported_cents",
        "reported_tokens", "reported_from", "drift_cents", "synced_at",
    } == set(rows[0])  # fmt: skip
    assert sum(r["reported_tokens"] for r in rows) == 1010
    assert byok("spend", db=db_path).code == 0

    for path in db_path.parent.iterdir():
        if path.is_file():
            assert ADMIN.encode() not in path.read_bytes(), path
    assert byok("account", "rm", "org", db=db_path).code == 0
    assert byok("account", "list", "--json", db=db_path).json == []
    assert byok("spend", "--json", db=db_path).json == {"days": [], "balances": []}


def test_sync_exits_1_when_an_account_fails(
    db_path: Path, own_fake_server: FakeProviderServer
) -> None:
    assert byok("add", "x", "--provider", "deepseek", "--credential-stdin", db=db_path,
                input="sk-" + "d" * 30 + "\n").code == 0  # fmt: skip
    for name, url in (
        ("up", own_fake_server.base_url_for("deepseek")),
        ("down", "http://127.0.0.1:9"),
    ):
        args = ("account", "add", name, "--provider", "deepseek", "--credential-stdin")
        added = byok(*args, "--base-url", url, db=db_path, input="sk-" + "e" * 30 + "\n")
        assert added.code == 0, added.err
    run = byok("sync", db=db_path)
    assert run.code == 1
    assert "up: 0 windows" in run.out and "byok: sync down:" in run.err


def test_limits_from_each_source_in_a_fresh_process(
    db_path: Path, own_fake_server: FakeProviderServer
) -> None:
    server = own_fake_server
    server.admin.openai_keys = [("proj_1", "key_K", "sk-pro...9876")]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    server.admin.usage["openai"] = [Use(now - timedelta(hours=1), "key_K", "gpt-4o", 1000, 10)]
    assert byok("add", "prod", "--provider", "openai", "--credential-stdin", "--token-limit",
                "2000", db=db_path, input=KEY + "\n").code == 0  # fmt: skip
    assert byok("usage", "record", "prod", "--model", "gpt-4o", "--input", "300", "--output",
                "0", "--cost-cents", "1", db=db_path).code == 0  # fmt: skip
    limits = byok("limits", "prod", "--json", db=db_path)
    assert limits.json["tokens_used_month"] == 300 and limits.json["reported_tokens"] is None

    url = server.base_url_for("openai")
    added = byok("account", "add", "org", "--provider", "openai", "--credential-stdin",
                 "--base-url", url, db=db_path, input=ADMIN + "\n")  # fmt: skip
    assert added.code == 0, added.err
    server.admin.openai_keys = []  # no auto-link: tie it by hand with byok edit
    assert byok("sync", "--days", "1", db=db_path).code == 0
    bad = byok("edit", "prod", "--provider-key-id", "key_K", "--limits-source", "bogus",
               db=db_path)  # fmt: skip
    assert bad.code != 0 and "limits_source" in bad.err
    assert byok("show", "prod", "--json", db=db_path).json["limits_source"] == "max"
    linked = byok("edit", "prod", "--provider-key-id", "key_K", db=db_path)
    assert linked.code == 0, linked.err
    assert "linked to key_K (org)" in linked.out
    assert byok("sync", "--days", "1", db=db_path).code == 0

    by_source = {}
    for source in ("max", "recorded", "reported"):
        assert byok("edit", "prod", "--limits-source", source, db=db_path).code == 0
        run = byok("limits", "prod", "--json", db=db_path)
        assert run.code == 0, run.err
        by_source[source] = run.json
    assert by_source["max"]["tokens_used_month"] == 1010
    assert by_source["max"]["tokens_source"] == "reported"
    assert by_source["max"]["reported_synced_at"] is not None
    assert by_source["recorded"]["tokens_used_month"] == 300
    assert by_source["reported"]["tokens_used_month"] == 1010
    assert all(s["recorded_tokens"] == 300 for s in by_source.values())
    text = byok("limits", "prod", db=db_path)
    assert "reported by the provider" in text.out
