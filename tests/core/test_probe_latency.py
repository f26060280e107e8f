"""A probe's latency is the provider's answer time, and check_many's concurrency is what was
asked, also above the shared pool's size."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.providers import drained, enabled_fleet, key_for, make

from core import HealthState, IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer


async def test_latency_leaves_out_the_clients_own_time_before_the_request_is_sent(
    db_path: Path, fake_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = IntegrationsFacade(db_path, slow_threshold_ms=300)
    iid = await make(f, fake_server, "openai", key_for("slow:100"))
    connect = aiohttp.TCPConnector.connect

    async def busy_client(self: aiohttp.TCPConnector, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)  # the event loop busy with other probes before this one goes out
        return await connect(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.TCPConnector, "connect", busy_client)
    result = await f.test_credentials("t1", iid)
    assert result is not None and result.latency_ms is not None
    assert 100 <= result.latency_ms < 400, result.latency_ms
    assert result.health_state is HealthState.HEALTHY  # not `slow`: the provider took 100 ms
    await f.aclose()


async def test_a_concurrency_above_the_pool_is_honoured(
    db_path: Path, own_fake_server: FakeProviderServer
) -> None:
    f = IntegrationsFacade(db_path, probe_concurrency=2)
    await enabled_fleet(f, own_fake_server, 8, "slow:400")
    await drained(own_fake_server)
    results = [r async for r in f.check_many("t1", concurrency=8)]
    assert len(results) == 8 and all(r.health_state is HealthState.HEALTHY for r in results)
    assert own_fake_server.stats()["max_open_connections"] > 2  # not capped at the pool's 2
    assert f._health._client is None  # the shared client was not used, nor resized
    await drained(own_fake_server)  # the wide client's connections closed first
    results = [r async for r in f.check_many("t1")]  # the default: the pool's bound
    assert len(results) == 8 and own_fake_server.stats()["max_open_connections"] <= 2
    await f.aclose()
