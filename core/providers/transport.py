"""The health probes' HTTP transport: one connection pool split into small shards.

Its own module so that httpx (~40 ms to import) is loaded by the first probe, not by every
process that imports `core`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpcore
import httpx

from core.providers.netstream import ProbeBackend


class ShardedTransport(httpx.AsyncBaseTransport):
    """One client's pool split into small httpcore pools, each request on the least loaded.

    httpcore 1.0's pool re-scans every connection for every connection on each request start
    and end (quadratic in the pool size): with 50 connections it spent ~90% of a 500-probe check
    in that scan (7-11 s instead of ~1 s). Pools of <= 10 keep the scan cheap while the total
    bound on connections stays exactly `total`.
    """

    PER_SHARD = 10

    def __init__(self, total: int, trust_env: bool) -> None:
        count = max(1, -(-total // self.PER_SHARD))
        tls = httpx.create_ssl_context(trust_env=trust_env)  # one CA bundle load, not one a shard
        sizes = [total // count + (1 if i < total % count else 0) for i in range(count)]
        self._shards = [
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(
                    max_connections=size, max_keepalive_connections=size, keepalive_expiry=30.0
                ),
                verify=tls,
                trust_env=trust_env,
            )
            for size in sizes
        ]
        for shard, size in zip(self._shards, sizes, strict=True):
            # httpx takes no network backend: its pool, with the same settings and ours
            shard._pool = httpcore.AsyncConnectionPool(
                ssl_context=tls,
                max_connections=size,
                max_keepalive_connections=size,
                keepalive_expiry=30.0,
                network_backend=ProbeBackend(),
            )
        self._load = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self._load.__getitem__)
        self._load[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self._load[index] -= 1
            raise
        response.stream = Release(response.stream, self._load, index)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class Release(httpx.AsyncByteStream):
    """The response body; closing it gives the request's place in its shard back."""

    def __init__(self, stream: Any, load: list[int], index: int) -> None:
        self._stream, self._load, self._index = stream, load, index
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._open:
            self._open = False
            self._load[self._index] -= 1
        await self._stream.aclose()
