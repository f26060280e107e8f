"""The probes' connection pool (core.providers.pool): bounded, connections kept per origin and
reused, a full pool waits or makes room, and a waiter that gives up leaves no place lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from support.providers import drained, key_for

from core.providers.transport import ProbeTransport
from tui.demo.fakeprovider import FakeProviderServer


def client(size: int, pool_s: float | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=ProbeTransport(size, False), timeout=httpx.Timeout(10.0, pool=pool_s)
    )


async def get(http: httpx.AsyncClient, server: FakeProviderServer, outcome: str) -> int:
    url = server.base_url_for("openai") + "/models"
    response = await http.get(url, headers={"authorization": f"Bearer {key_for(outcome)}"})
    return response.status_code


async def open_on(server: FakeProviderServer, count: int) -> int:
    """The server's open connections once they are `count` (give up after 10 s: the count)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while server.stats()["open_connections"] != count and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return server.stats()["open_connections"]


@pytest.fixture
async def other_server() -> AsyncIterator[FakeProviderServer]:
    server = FakeProviderServer().start()
    yield server
    server.stop()


async def test_connections_are_bounded_and_reused(own_fake_server: FakeProviderServer) -> None:
    await drained(own_fake_server)
    http = client(3)
    statuses = await asyncio.gather(*(get(http, own_fake_server, "slow:50") for _ in range(12)))
    assert statuses == [200] * 12
    stats = own_fake_server.stats()
    assert stats["max_open_connections"] == 3  # the three waited for, then took, each other's
    assert stats["total_connections"] == 3 and stats["requests"] == 12
    await http.aclose()


async def test_a_full_pool_makes_room_by_closing_another_origins_idle_connection(
    own_fake_server: FakeProviderServer, other_server: FakeProviderServer
) -> None:
    await drained(own_fake_server)
    http = client(1)
    assert await get(http, own_fake_server, "ok") == 200
    assert own_fake_server.stats()["open_connections"] == 1  # kept alive, idle
    assert await get(http, other_server, "ok") == 200
    assert await open_on(own_fake_server, 0) == 0  # closed by the client, to make room
    assert await get(http, other_server, "ok") == 200
    assert other_server.stats()["total_connections"] == 1  # reused
    await http.aclose()


async def test_a_request_waits_for_a_place_at_most_the_pool_timeout(
    own_fake_server: FakeProviderServer,
) -> None:
    http = client(1, pool_s=0.2)
    busy = asyncio.create_task(get(http, own_fake_server, "slow:1500"))
    await asyncio.sleep(0.1)
    with pytest.raises(httpx.PoolTimeout):
        await get(http, own_fake_server, "ok")
    assert await busy == 200
    assert await get(http, own_fake_server, "ok") == 200  # the timed-out waiter took no place
    await http.aclose()


async def test_a_waiter_cancelled_leaves_the_next_one_its_turn(
    own_fake_server: FakeProviderServer,
) -> None:
    http = client(1)
    busy = asyncio.create_task(get(http, own_fake_server, "slow:300"))
    await asyncio.sleep(0.05)
    gone = asyncio.create_task(get(http, own_fake_server, "ok"))
    next_one = asyncio.create_task(get(http, own_fake_server, "ok"))
    await asyncio.sleep(0.05)
    gone.cancel()
    assert await busy == 200
    async with asyncio.timeout(5):
        assert await next_one == 200
    assert gone.cancelled()
    await http.aclose()


async def test_closing_the_client_closes_every_connection(
    own_fake_server: FakeProviderServer,
) -> None:
    await drained(own_fake_server)
    http = client(4)
    await asyncio.gather(*(get(http, own_fake_server, "slow:50") for _ in range(4)))
    assert own_fake_server.stats()["open_connections"] == 4
    await http.aclose()
    assert await open_on(own_fake_server, 0) == 0  # without aclose, kept alive for 10 s
