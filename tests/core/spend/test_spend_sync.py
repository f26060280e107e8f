"""Spend sync over real HTTP against the fake provider's admin routes (tui.demo.fakeadmin)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.clock import T0, Clock

from core.errors import CredentialError
from core.facade import IntegrationsFacade
from core.integrations.credentials import Vault
from core.paths import side_file
from core.spend.providers import OPENAI_USAGE
from core.spend.service import SpendService
from core.spend.store import SpendStore
from tui.demo.fakeadmin import Use
from tui.demo.fakeprovider import FakeProviderServer

KEY_A = "sk-proj-" + "a" * 40 + "1111"
KEY_B = "sk-proj-" + "b" * 40 + "2222"
ADMIN = "sk-admin-" + "z" * 40


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        s.admin.openai_keys = [
            ("proj_1", "key_A", "sk-pro...1111"),
            ("proj_1", "key_B", "sk-pro...2222"),
        ]
        s.admin.anthropic_keys = [("apikey_A", "sk-ant-api03-aaa...3333")]
        for hours in range(0, 60, 3):  # the last 60 hours before T0, every third hour
            at = T0 - timedelta(hours=hours + 1)
            s.admin.usage["openai"].append(Use(at, "key_A", "gpt-4o", 1000, 100))
            s.admin.usage["openai"].append(Use(at, "key_B", "gpt-4o-mini", 500, 50))
            s.admin.usage["anthropic"].append(
                Use(at, "apikey_A", "claude-sonnet-4-5-20250929", 200, 20, cached=50)
            )
        for d in range(4):
            s.admin.costs["openai"][(T0 - timedelta(days=d)).strftime("%Y-%m-%d")] = 150.0
        yield s


@pytest.fixture
async def setup(db_path: Path, server: FakeProviderServer) -> Any:
    clock = Clock(T0)
    facade = IntegrationsFacade(db_path, clock=clock)
    ids = {}
    for name, provider, key in (
        ("a", "openai", KEY_A),
        ("b", "openai", KEY_B),
        ("c", "anthropic", "sk-ant-api03-" + "q" * 40 + "3333"),
    ):
        made = await facade.create_integration(
            "default", name=name, provider_type=provider, credential=key
        )
        ids[name] = made.id
    spend = SpendService(
        facade.context.repo,
        facade.context.vault,
        clock,
        usage_log_dir=facade.dashboard.usage.log_dir,
        sleep=lambda s: None,
    )
    yield facade, spend, ids, clock
    spend.close()
    await facade.aclose()


def _day_docs(spend: SpendService) -> dict[str, Any]:
    return {(d["account_id"], d["kind"], d["day"]): d["rows"] for d in spend.store.days("default")}


def _tokens(report: dict[str, Any], iid: str) -> int:
    return sum(r["reported_tokens"] for r in report["days"] if r["integration_id"] == iid)


async def test_openai_sync_links_keys_and_reports_per_integration(setup, server) -> None:
    facade, spend, ids, _ = setup
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    [report] = spend.sync("default", days=3)
    assert report["ok"], report
    assert sorted(x["provider_key_id"] for x in report["linked"]) == ["key_A", "key_B"]
    assert report["ambiguous"] == [] and report["unmatched"] == []
    spent = spend.report("default")
    # 20 hours of 1100 tokens (a) and 550 (b), all inside the 3 days synced
    assert _tokens(spent, ids["a"]) == 20 * 1100
    assert _tokens(spent, ids["b"]) == 20 * 550
    assert all(r["reported_cents"] > 0 for r in spent["days"] if r["reported_tokens"])
    cost = [d for d in spend.store.days("default", "cost") if d["rows"]]
    assert {round(sum(r["cents"] for r in d["rows"]), 2) for d in cost} == {150.0}
    # the admin key was sent as a Bearer token to the admin routes only
    assert all(s.route == "admin" for s in server.requests)
    assert ADMIN not in side_file(facade.db_path, "spend").read_text()


async def test_openai_embeddings_and_moderations_count_per_key(setup, server) -> None:
    _, spend, ids, _ = setup
    at = T0 - timedelta(hours=2)
    server.admin.usage["openai"] += [
        Use(at, "key_A", "text-embedding-3-small", 1_000_000, 0, endpoint="embeddings"),
        Use(at, "key_A", "omni-moderation-latest", 5_000, 0, endpoint="moderations"),
    ]
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    spend.sync("default", days=3)
    rows = [r for d in spend.store.days("default", "usage") for r in d["rows"]]
    by_model = {r["model"]: r for r in rows if r["key"] == "key_A"}
    assert by_model["text-embedding-3-small"]["in"] == 1_000_000
    assert by_model["text-embedding-3-small"]["cents"] == 2.0  # $0.02 per million tokens
    assert by_model["omni-moderation-latest"]["cents"] == 0.0  # free, and priced so
    assert _tokens(spend.report("default"), ids["a"]) == 20 * 1100 + 1_005_000
    asked = {s.path.rsplit("/", 1)[-1] for s in server.requests if "/usage/" in s.path}
    assert asked == set(OPENAI_USAGE)


async def test_resync_replaces_buckets_never_adds(setup, server) -> None:
    _, spend, ids, _clock = setup
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    spend.sync("default", days=3)
    first = _day_docs(spend)
    spend.sync("default", days=3)
    spend.sync("default")  # incremental: from the watermark, 48 h back
    assert _day_docs(spend) == first
    # the provider revises a recent hour: the re-sync shows the new figure, not a sum
    server.admin.usage["openai"].append(Use(T0 - timedelta(hours=2), "key_A", "gpt-4o", 7, 0))
    spend.sync("default")
    assert _tokens(spend.report("default"), ids["a"]) == 20 * 1100 + 7


async def test_incremental_sync_starts_at_the_watermark_less_48_hours(setup, server) -> None:
    _, spend, _, clock = setup
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    spend.sync("default", days=10)
    clock.advance(hours=1)
    [report] = spend.sync("default")
    # one window each of usage and cost: the 3 days from 48 hours back, not the 11 of the first
    assert report["windows"] == 2
    days = {d["day"] for d in spend.store.days("default", "usage")}
    assert len(days) == 11


async def test_anthropic_sync(setup, server) -> None:
    _, spend, ids, _ = setup
    spend.add_account("default", "ant", "anthropic", ADMIN, server.base_url_for("anthropic"))
    [report] = spend.sync("default", days=3)
    assert report["ok"], report
    assert report["linked"] == [{"integration_id": ids["c"], "provider_key_id": "apikey_A"}]
    assert _tokens(spend.report("default"), ids["c"]) == 20 * 220


async def test_ambiguous_match_is_reported_not_guessed_and_manual_link_holds(setup, server) -> None:
    _, spend, ids, _ = setup
    server.admin.openai_keys.append(("proj_2", "key_C", "sk-pro...1111"))  # same tail as a
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    [report] = spend.sync("default", days=1)
    assert [x["provider_key_id"] for x in report["linked"]] == ["key_B"]
    assert report["ambiguous"] == [
        {"integration_id": ids["a"], "key_ids": ["key_A", "key_C"], "shared_with": []}
    ]
    assert ids["a"] not in spend.store.links_to("default")
    spend.link("default", "a", "key_A")
    spend.sync("default", days=1)
    assert spend.store.links_to("default")[ids["a"]]["how"] == "manual"
    assert _tokens(spend.report("default", "a"), ids["a"]) > 0


async def test_429_mid_pagination_waits_and_goes_on(setup, server) -> None:
    _, spend, ids, _ = setup
    server.admin.page_size = 6
    server.admin.fail("openai", "usage", "429:0.05", page=2, times=2)
    slept: list[float] = []
    spend.syncer.sleep = slept.append
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    [report] = spend.sync("default", days=3)
    assert report["ok"], report
    assert slept == [0.05, 0.05]
    assert _tokens(spend.report("default"), ids["a"]) == 20 * 1100


async def test_429_longer_than_the_bound_fails_the_account(setup, server) -> None:
    _, spend, _, _ = setup
    server.admin.fail("openai", "usage", "429:3600", page=0)
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    [report] = spend.sync("default", days=3)
    assert not report["ok"] and "429" in report["error"]


async def test_5xx_mid_pagination_writes_nothing_of_the_window(setup, server) -> None:
    _, spend, ids, _ = setup
    server.admin.page_size = 6
    server.admin.fail("openai", "usage", "500", page=3)
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    [report] = spend.sync("default", days=3)
    assert not report["ok"] and "HTTP 500" in report["error"]
    assert spend.store.days("default", "usage") == []
    assert spend.store.mark(spend.accounts.list("default")[0].id, "usage") is None
    [report] = spend.sync("default", days=3)  # the fault was played once
    assert report["ok"]
    assert _tokens(spend.report("default"), ids["a"]) == 20 * 1100


async def test_one_account_down_does_not_stop_the_others(setup, server) -> None:
    _, spend, _, _ = setup
    spend.add_account("default", "down", "openai", ADMIN, "http://127.0.0.1:9")
    spend.add_account("default", "up", "anthropic", ADMIN, server.base_url_for("anthropic"))
    reports = {r["account"]: r for r in spend.sync("default", days=1)}
    assert not reports["down"]["ok"] and ADMIN not in reports["down"]["error"]
    assert reports["up"]["ok"]


async def test_balances_and_runway(setup, server) -> None:
    facade, spend, _, _ = setup
    key = "sk-or-v1-" + "r" * 40
    made = await facade.create_integration(
        "default",
        name="r",
        provider_type="openrouter",
        credential=key,
        config={"base_url": server.base_url_for("openrouter")},
    )
    server.admin.key_usage[key] = (1.5, 7.0)  # $ today, this week
    server.admin.credits = (100.0, 30.0)
    spend.add_account("default", "or", "openrouter", ADMIN, server.base_url_for("openrouter"))
    spend.add_account(
        "default", "ds", "deepseek", "sk-" + "d" * 30, server.base_url_for("deepseek")
    )
    assert all(r["ok"] for r in spend.sync("default"))
    report = spend.report("default")
    by = {b["account"]: b for b in report["balances"]}
    assert by["or"]["balance_cents"] == 7000 and by["or"]["runway_days"] == 70.0
    assert by["ds"]["balance_cents"] == 11000 and by["ds"]["runway_days"] is None  # no burn
    [day] = [r for r in report["days"] if r["integration_id"] == made.id]
    assert (day["reported_cents"], day["reported_from"]) == (150, "provider")


async def test_recorded_beside_reported_gives_drift(setup, server) -> None:
    facade, spend, ids, _ = setup
    await facade.record_usage(
        "default", ids["a"], model="gpt-4o", input_tokens=1, output_tokens=1, cost_cents=2.5,
        at=T0 - timedelta(hours=1),
    )  # fmt: skip
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    spend.sync("default", days=1)
    [today] = [
        r
        for r in spend.report("default", "a")["days"]
        if r["period_start"].startswith(T0.strftime("%Y-%m-%d"))
    ]
    assert today["recorded_cents"] == 2.5
    assert today["drift_cents"] == round(2.5 - today["reported_cents"], 4)


CHILD = """
import sys
from datetime import datetime
from core.errors import CredentialError
from core.facade import IntegrationsFacade
from core.integrations.credentials import Vault
now = datetime.fromisoformat(sys.argv[3])
f = IntegrationsFacade(sys.argv[1], clock=lambda: now)
while True:
    for r in f.spend().sync("default", days=int(sys.argv[2])):
        assert r["ok"], r
    print("synced", flush=True)
"""


async def test_sigkill_during_sync_loses_nothing_and_leaves_no_half_window(
    setup, server, db_path: Path
) -> None:
    _facade, spend, _, _ = setup
    server.admin.page_size = 4  # many pages, many commits: a kill lands mid-window
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    spend.sync("default", days=3)
    before = _day_docs(spend)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    for delay in (0.0, 0.02, 0.1, 0.3):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db_path), "3", T0.isoformat()],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None and child.stdout.readline().strip() == b"synced"
        seen = len(server.requests)
        deadline = time.monotonic() + 10
        while len(server.requests) <= seen and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(server.requests) > seen  # the next sync is under way
        time.sleep(delay)
        assert child.poll() is None
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        # the files parse, and every day is whole: as it was (the data did not change)
        json.loads(side_file(db_path, "spend").read_text())
        fresh = SpendStore(side_file(db_path, "spend"))
        try:
            days = {
                (d["account_id"], d["kind"], d["day"]): d["rows"] for d in fresh.days("default")
            }
            assert {k: days[k] for k in before} == before
        finally:
            fresh.close()


async def test_an_openrouter_key_that_fails_is_said_and_the_others_go_on(setup, server) -> None:
    facade, spend, _, _ = setup
    base = {"base_url": server.base_url_for("openrouter")}
    good, bad = "sk-or-v1-" + "g" * 40, "sk-or-v1-@401@" + "b" * 40
    server.admin.key_usage[good] = (2.0, 3.0)
    made = {}
    for name, key in (("good", good), ("bad", bad)):
        made[name] = await facade.create_integration(
            "default", name=name, provider_type="openrouter", credential=key, config=base
        )
    spend.add_account("default", "or", "openrouter", ADMIN, server.base_url_for("openrouter"))
    [report] = spend.sync("default")
    assert report["ok"] and report["rows"] == 1
    assert [e["integration_id"] for e in report["key_errors"]] == [made["bad"].id]
    assert bad not in report["key_errors"][0]["error"]
    [day] = spend.report("default")["days"]
    assert day["integration_id"] == made["good"].id and day["reported_cents"] == 200


async def test_account_add_never_makes_a_new_master_key_over_sealed_keys(
    setup, server, tmp_path: Path
) -> None:
    facade, _, _, clock = setup
    # the integrations' keys were sealed under the environment's key; without it, and with no
    # key file, a new key must not be made for the account (it would hide the loss)
    key_file = tmp_path / "lost" / "master.key"
    fresh = SpendService(
        facade.context.repo,
        Vault(key_path=key_file, environ={}),
        clock,
        usage_log_dir=facade.dashboard.usage.log_dir,
    )
    try:
        with pytest.raises(CredentialError, match="no master key"):
            fresh.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
        assert not key_file.exists() and fresh.accounts.list("default") == []
    finally:
        fresh.close()
