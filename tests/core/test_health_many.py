"""check_many: which integrations, as-completed order, a real concurrency bound, batched storage,
and cancellation that leaves no stray task."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import Clock
from support.facade import OpenFacade
from support.providers import drained, enabled_fleet, key_for, make

from core import HealthState, IntegrationsFacade, ValidationError
from tui.demo.fakeprovider import FakeProviderServer


async def _three_on_one_off_one_elsewhere(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> tuple[list[str], str, str]:
    """Three enabled integrations of t1, a disabled one, and one of another tenant."""
    on = [await make(facade, server, "openai", key_for("ok")) for _ in range(3)]
    off = await make(facade, server, "mistral", key_for("ok"), enable=False)
    elsewhere = await make(facade, server, "openai", key_for("ok"), tenant="t2")
    return on, off, elsewhere


async def test_only_enabled_by_default_and_all_on_request(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    on, off, other_tenant = await _three_on_one_off_one_elsewhere(facade, fake_server)
    got = {r.integration_id async for r in facade.check_many("t1")}
    assert got == set(on)
    got_all = {r.integration_id async for r in facade.check_many("t1", include_disabled=True)}
    assert got_all == {*on, off}
    assert other_tenant not in got_all


async def test_integration_ids_probe_exactly_those(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    on, off, elsewhere = await _three_on_one_off_one_elsewhere(facade, fake_server)
    asked = [on[0], off, elsewhere, "no-such-id", on[0]]
    got = [r.integration_id async for r in facade.check_many("t1", integration_ids=asked)]
    assert sorted(got) == sorted([on[0], off])  # a disabled one too; once; others skipped
    logged = {e.integration_id for e in await facade.get_health_log("t1")}
    assert logged == {on[0], off}
    assert (await facade.get_health_status("t1", on[1])).health_state == HealthState.UNKNOWN
    with pytest.raises(ValidationError) as bad:
        _ = [r async for r in facade.check_many("t1", integration_ids=on[0])]  # a lone string
    assert "integration_ids" in bad.value.errors


async def test_yields_as_each_completes(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    slow = await make(facade, fake_server, "openai", key_for("slow:600"))
    fast = [await make(facade, fake_server, "anthropic", key_for("ok")) for _ in range(3)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    order, first_at = [], None
    async for r in facade.check_many("t1", concurrency=4):
        first_at = first_at if first_at is not None else loop.time() - started
        order.append(r.integration_id)
    assert set(order[:3]) == set(fast) and order[-1] == slow
    assert first_at is not None and first_at < 0.5  # the fast ones did not wait for the slow one


async def test_stale_after_s_skips_recent_checks(
    open_facade: OpenFacade, fake_server: FakeProviderServer
) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    f = open_facade(clock=clock)
    a = await make(f, fake_server, "openai", key_for("ok"))
    b = await make(f, fake_server, "openai", key_for("ok"))
    await f.test_credentials("t1", a)
    clock.advance(seconds=30)
    got = [r.integration_id async for r in f.check_many("t1", stale_after_s=60)]
    assert got == [b]  # a was checked 30 s ago, b never
    clock.advance(seconds=61)
    got = {r.integration_id async for r in f.check_many("t1", stale_after_s=60)}
    assert got == {a, b}


async def test_concurrency_bound_seen_by_the_server(
    db_path: Path, own_fake_server: FakeProviderServer
) -> None:
    # probe_concurrency sizes the shared pool, the hard bound on open connections; a smaller
    # check_many(concurrency=...) bounds probes in flight, while idle keep-alive connections of
    # the pool's shards may outnumber it.
    facade = IntegrationsFacade(db_path, probe_concurrency=4)
    await enabled_fleet(facade, own_fake_server, 24, "slow:150")
    await drained(own_fake_server)
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = [r async for r in facade.check_many("t1")]
    elapsed = loop.time() - started
    assert len(results) == 24 and all(r.health_state == HealthState.HEALTHY for r in results)
    assert own_fake_server.stats()["max_open_connections"] <= 4
    assert elapsed >= 6 * 0.15  # 24 probes, 4 at a time, 150 ms each: at least 6 rounds
    # every result was stored, in a few batched commits
    listing = await facade.list_integrations("t1")
    assert all(i.health_state == HealthState.HEALTHY for i in listing.items)
    assert len(await facade.get_health_log("t1", limit=1000)) == 24
    await facade.aclose()


async def test_breaking_early_cancels_the_rest_and_keeps_what_completed(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    fast = await make(facade, fake_server, "openai", key_for("ok"))
    hanging = [await make(facade, fake_server, "openai", key_for("hang")) for _ in range(5)]
    before = asyncio.all_tasks()
    gen = facade.check_many("t1")
    first = await anext(gen)
    assert first.integration_id == fast
    await gen.aclose()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()  # no stray probe or writer task
    assert (await facade.get_health_status("t1", fast)).health_state == HealthState.HEALTHY
    for iid in hanging:
        assert (await facade.get_health_status("t1", iid)).health_state == HealthState.UNKNOWN
    assert [e.integration_id for e in await facade.get_health_log("t1")] == [fast]


async def test_cancelling_the_consumer_task_cancels_the_probes(
    facade: IntegrationsFacade, own_fake_server: FakeProviderServer
) -> None:
    for _ in range(4):
        await make(facade, own_fake_server, "openai", key_for("hang"))
    before = asyncio.all_tasks()

    async def consume() -> list[object]:
        return [r async for r in facade.check_many("t1")]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    assert own_fake_server.stats()["open_connections"] >= 4
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert asyncio.all_tasks() - before == set()


async def test_bad_arguments_are_validation_errors(facade: IntegrationsFacade) -> None:
    for kwargs in ({"concurrency": 0}, {"concurrency": "5"}, {"stale_after_s": -1}):
        with pytest.raises(ValidationError):
            async for _ in facade.check_many("t1", **kwargs):
                pass
    with pytest.raises(ValidationError):
        facade.check_many("bad tenant!")
