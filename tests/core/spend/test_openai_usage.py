"""OpenAI's usage endpoints beyond completions, and its costs per API key, over real HTTP
against the fake admin routes (tui.demo.fakeadmin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.clock import T0, Clock

from core.facade import IntegrationsFacade
from core.spend.providers import OPENAI_USAGE
from core.spend.service import SpendService
from tui.demo.fakeadmin import Use
from tui.demo.fakeprovider import FakeProviderServer

ADMIN = "sk-admin-" + "z" * 40
KEYS = {"a": "sk-proj-" + "a" * 40 + "1111", "b": "sk-proj-" + "b" * 40 + "2222"}
DAY = T0.strftime("%Y-%m-%d")
HOUR = T0 - timedelta(hours=1)


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        s.admin.openai_keys = [
            ("proj_1", "key_A", "sk-pro...1111"),
            ("proj_1", "key_B", "sk-pro...2222"),
        ]
        s.admin.usage["openai"] += [
            Use(HOUR, "key_A", "gpt-4o", 1000, 100),
            Use(HOUR, "key_A", "text-embedding-3-small", 5000, 0, endpoint="embeddings"),
            Use(HOUR, "key_A", "omni-moderation-latest", 300, 0, endpoint="moderations"),
            Use(HOUR, "key_A", "gpt-image-1", 0, 0, endpoint="images", units=3),
            Use(HOUR, "key_B", "tts-1", 0, 0, endpoint="audio_speeches", units=1200),
            Use(HOUR, "key_B", "whisper-1", 0, 0, endpoint="audio_transcriptions", units=60),
        ]
        s.admin.key_costs["openai"] = {(DAY, "key_A"): 250.0, (DAY, "key_B"): 40.0}
        s.admin.costs["openai"][DAY] = 5.0  # file storage, say: no key's
        yield s


@pytest.fixture
async def spend(db_path: Path, server: FakeProviderServer) -> AsyncIterator[Any]:
    clock = Clock(T0)
    facade = IntegrationsFacade(db_path, clock=clock)
    ids = {}
    for name, key in KEYS.items():
        made = await facade.create_integration(
            "default", name=name, provider_type="openai", credential=key
        )
        ids[name] = made.id
    ctx = facade.context
    log = facade.dashboard.usage.log_dir
    service = SpendService(ctx.repo, ctx.vault, clock, usage_log_dir=log, sleep=lambda s: None)
    service.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    yield service, ids
    service.close()
    await facade.aclose()


async def test_every_usage_endpoint_by_key_is_read(spend, server) -> None:
    service, _ = spend
    [report] = service.sync("default", days=2)
    assert report["ok"], report
    assert {f"/organization/usage/{e}" for e in OPENAI_USAGE} <= set(report["read"])
    rows = [r for d in service.store.days("default", "usage") for r in d["rows"]]
    by_key = {k: [r for r in rows if r["key"] == k] for k in ("key_A", "key_B")}
    # tokens where the endpoint counts them: completions, embeddings and moderations
    assert sum(r["in"] + r["out"] for r in by_key["key_A"]) == 1100 + 5000 + 300
    # requests everywhere: images and audio count none of those tokens
    assert sum(r["req"] for r in by_key["key_A"]) == 4
    assert sum(r["req"] for r in by_key["key_B"]) == 2


async def test_the_cost_per_key_is_the_providers_own(spend, server) -> None:
    service, ids = spend
    service.sync("default", days=2)
    keys = {r.get("key") for d in service.store.days("default", "cost") for r in d["rows"]}
    assert keys == {"key_A", "key_B", None}
    days = {
        (r["integration_id"], r["period_start"][:10]): r for r in service.report("default")["days"]
    }
    a, b = days[(ids["a"], DAY)], days[(ids["b"], DAY)]
    assert (a["reported_cents"], a["reported_from"]) == (250.0, "provider")
    assert (b["reported_cents"], b["reported_from"]) == (40.0, "provider")
    assert a["reported_tokens"] == 1100 + 5000 + 300


async def test_without_the_key_grouping_the_fake_answers_the_organisation_total(server) -> None:
    answer = httpx.get(
        server.base_url_for("openai") + "/organization/costs",
        params={"start_time": int(T0.timestamp()) - 86400, "bucket_width": "1d"},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    results = [r for b in answer.json()["data"] for r in b["results"]]
    assert [r["amount"]["value"] for r in results] == [2.95]
