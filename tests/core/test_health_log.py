"""The health log and redaction: newest first, tenant-scoped, bounded, survives deletion; and
the secret reaches no result, log entry, exception or file."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import Clock
from support.facade import OpenFacade
from support.providers import ALL_PROVIDERS, files_containing, key_for, make

from core import HealthLogEntry, HealthState, IntegrationsFacade, ValidationError
from core.integrations.redaction import redact
from tui.demo.fakeprovider import FakeProviderServer


async def test_newest_first_with_all_fields(
    open_facade: OpenFacade, fake_server: FakeProviderServer
) -> None:
    clock = Clock(datetime(2026, 5, 1, tzinfo=UTC))
    f = open_facade(clock=clock)
    secret = key_for("ok")
    iid = await make(f, fake_server, "openai", secret, name="Prod OpenAI")
    for outcome in ("ok", "401", "429:2"):
        fake_server.script(secret, outcome)
        await f.test_credentials("t1", iid)
        clock.advance(minutes=1)
    log = await f.get_health_log("t1", iid)
    assert all(isinstance(e, HealthLogEntry) for e in log)
    assert [e.reason for e in log] == ["rate_limited", "invalid_key", "ok"]
    assert [e.http_status for e in log] == [429, 401, 200]
    assert log[0].checked_at > log[1].checked_at > log[2].checked_at
    assert log[0].integration_name == "Prod OpenAI" and log[0].provider_type.value == "openai"
    assert all(e.latency_ms is not None for e in log)
    assert [e.reason for e in await f.get_health_log("t1", iid, limit=2)] == [
        "rate_limited",
        "invalid_key",
    ]


async def test_tenant_scoped_and_merged_across_integrations(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    a = await make(facade, fake_server, "openai", key_for("ok"))
    b = await make(facade, fake_server, "anthropic", key_for("403"))
    c = await make(facade, fake_server, "openai", key_for("ok"), tenant="t2")
    for iid in (a, b):
        await facade.test_credentials("t1", iid)
    await facade.test_credentials("t2", c)
    t1 = await facade.get_health_log("t1")
    assert [e.integration_id for e in t1] == [b, a]
    assert await facade.get_health_log("t1", c) == []  # another tenant's integration: nothing
    assert [e.integration_id for e in await facade.get_health_log("t2")] == [c]
    with pytest.raises(ValidationError):
        await facade.get_health_log("t1", limit=0)


async def test_retention_is_bounded_per_integration(
    db_path: Path, fake_server: FakeProviderServer, open_facade: OpenFacade
) -> None:
    f = open_facade(health_log_retention=3)
    log = f._health.log
    log.segment_bytes, log.compact_bytes = 2048, 4096  # small files: compaction runs here
    a = await make(f, fake_server, "openai", key_for("ok"))
    b = await make(f, fake_server, "openai", key_for("ok"))
    for _ in range(5):
        await f.test_credentials("t1", a)
    await f.test_credentials("t1", b)
    assert len(await f.get_health_log("t1", a)) == 3
    assert len(await f.get_health_log("t1")) == 4

    def on_disk() -> int:
        return sum(p.stat().st_size for p in (db_path.parent / "byok.health.d").iterdir())

    sizes = []
    for _ in range(60):
        await f.test_credentials("t1", a)
        sizes.append(on_disk())
    # compaction drops what retention hides: the files stop growing with the history
    assert max(sizes) <= 2 * log.compact_bytes + 2 * log.segment_bytes
    assert min(sizes[30:]) < max(sizes[:30])
    assert len(await f.get_health_log("t1", a)) == 3
    assert len(await f.get_health_log("t1")) == 4


async def test_log_of_a_deleted_integration_stays_readable(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    iid = await make(facade, fake_server, "openai", key_for("ok"))
    await facade.test_credentials("t1", iid)
    assert (await facade.delete_integration("t1", iid)).deleted
    log = await facade.get_health_log("t1", iid)
    assert [e.reason for e in log] == ["ok"]
    assert await facade.test_credentials("t1", iid) is None


async def test_one_commit_per_file_per_probe(
    facade: IntegrationsFacade, fake_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    iid = await make(facade, fake_server, "openai", key_for("ok"))
    commits: list[str] = []
    store, log = facade.context.store, facade._health.log
    commit, append = store._commit, log._append
    monkeypatch.setattr(
        store, "_commit", lambda data: (commits.append(store.path.name), commit(data))[1]
    )
    monkeypatch.setattr(
        log,
        "_append",
        lambda path, data, created: (commits.append(path.parent.name), append(path, data, created))[
            1
        ],
    )
    await facade.test_credentials("t1", iid)
    assert sorted(commits) == ["byok.health.d", "byok.json"]


async def test_files_private_and_reopened_by_a_new_facade(
    db_path: Path, fake_server: FakeProviderServer, open_facade: OpenFacade
) -> None:
    f = IntegrationsFacade(db_path)
    iid = await make(f, fake_server, "openai", key_for("ok"))
    await f.test_credentials("t1", iid)
    await f.aclose()
    logdir = db_path.parent / "byok.health.d"
    assert stat.S_IMODE(os.stat(logdir).st_mode) == 0o700
    files = list(logdir.iterdir())
    assert sorted(p.name for p in files if p.suffix != ".jsonl") == [".lock"] and len(files) == 2
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in files)
    g = open_facade()
    assert [e.reason for e in await g.get_health_log("t1", iid)] == ["ok"]


async def test_secret_reaches_no_result_log_exception_or_file(
    db_path: Path, fake_server: FakeProviderServer, tmp_path: Path, isolated_env: Path
) -> None:
    """Every provider with the key-echoing outcome and the others, through test and check_many."""
    f = IntegrationsFacade(db_path, probe_timeout_s=0.5)
    secrets_used: list[str] = []
    texts: list[str] = []
    try:
        for provider in ALL_PROVIDERS:
            for outcome in ("echo", "401", "malformed", "ok", "reset", "500"):
                secret = key_for(outcome)
                secrets_used.append(secret)
                iid = await make(f, fake_server, provider, secret, default_model="m-unknown")
                r = await f.test_credentials("t1", iid, deep=True)
                texts.append(r.model_dump_json())
        async for r in f.check_many("t1"):
            texts.append(r.model_dump_json())
        texts += [e.model_dump_json() for e in await f.get_health_log("t1", limit=10_000)]
        texts += [i.model_dump_json() for i in (await f.list_integrations("t1", limit=1000)).items]
    finally:
        await f.aclose()
    blob = "\n".join(texts)
    for secret in secrets_used:
        assert secret not in blob
        tail = secret.rsplit("@", 1)[1]
        assert tail not in blob and tail[:8] not in blob
        assert files_containing([tmp_path, isolated_env], secret.encode()) == []
        assert files_containing([tmp_path, isolated_env], tail.encode()) == []
    assert "[redacted]" in blob  # the echo outcome did echo, and was scrubbed


def test_redact_scrubs_secrets_fragments_and_key_shapes() -> None:
    secret = "sk-proj-AbCdEf0123456789XyZ"
    text = f"bad key {secret}; also {secret[:10]}… and {secret[-8:]} and Bearer abc.def"
    out = redact(text, [secret])
    assert secret not in out and secret[-8:] not in out and "abc.def" not in out
    assert (
        redact("key sk-ant-api03-zzzzzzzz and AIzaSyA1234567890abcdef", []).count("[redacted]") == 2
    )
    long = redact("word " * 200, [])
    assert len(long) <= 300 and long.endswith("…")
    assert redact(b"\xff plain words", []) == "\ufffd plain words"
    assert redact("ok", ["sk-secret-value"]) == "ok"
    assert HealthState.HEALTHY == "healthy"
