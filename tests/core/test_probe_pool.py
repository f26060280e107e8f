"""The probes' HTTP client (core.providers.probehttp): connections bounded and reused, a waiter
that gives up leaves no place lost, closing closes them all, cookies are never kept."""

from __future__ import annotations

import asyncio

import pytest
from support.providers import drained, key_for

from core.providers.probehttp import ProbeClient
from tui.demo.fakeprovider import FakeProviderServer


def client(size: int) -> ProbeClient:
    return ProbeClient(size, connect_s=5.0, trust_env=False)


async def get(http: ProbeClient, server: FakeProviderServer, outcome: str) -> int:
    url = server.base_url_for("openai") + "/models"
    answer = await http.send("GET", url, {"authorization": f"Bearer {key_for(outcome)}"}, None,
                             1 << 20)  # fmt: skip
    return answer.status


async def open_on(server: FakeProviderServer, count: int) -> int:
    """The server's open connections once they are `count` (give up after 10 s: the count)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while server.stats()["open_connections"] != count and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return server.stats()["open_connections"]


async def test_connections_are_bounded_and_reused(own_fake_server: FakeProviderServer) -> None:
    await drained(own_fake_server)
    http = client(3)
    statuses = await asyncio.gather(*(get(http, own_fake_server, "slow:50") for _ in range(12)))
    assert statuses == [200] * 12
    stats = own_fake_server.stats()
    assert stats["max_open_connections"] == 3  # the three waited for, then took, each other's
    assert stats["total_connections"] == 3 and stats["requests"] == 12
    await http.aclose()


async def test_a_request_waits_for_a_place_within_the_callers_deadline(
    own_fake_server: FakeProviderServer,
) -> None:
    http = client(1)
    busy = asyncio.create_task(get(http, own_fake_server, "slow:1500"))
    await asyncio.sleep(0.1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
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
    assert await open_on(own_fake_server, 0) == 0  # without aclose, kept alive for 30 s
