"""The probes' connection pool: at most `size` connections, the idle ones kept per origin.

httpcore 1.0's pool re-examines every connection (a `poll` of each idle socket among other
checks) on every request start and end: with 200 connections that scan was most of a probe's
CPU. Here taking a connection looks only at the idle ones of the request's origin, newest first
(one `poll`: has the server closed it?), and giving one back is an append; a request that finds
every place taken waits for one, first come first served. The connections themselves are
httpcore's (HTTP/1.1 on h11, its timeouts, its trace events), on the probes' network backend.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import AsyncIterator

import httpcore
from httpcore._async.interfaces import AsyncRequestInterface
from httpcore._synchronization import AsyncShieldCancellation

from core.providers.netstream import ProbeBackend

Key = tuple[bytes, bytes, int]  # scheme, host, port


class ProbePool(AsyncRequestInterface):
    def __init__(self, size: int, ssl_context: ssl.SSLContext, keepalive_expiry: float) -> None:
        self._size = size
        self._ssl, self._expiry = ssl_context, keepalive_expiry
        self._backend = ProbeBackend()
        self._idle: dict[Key, list[httpcore.AsyncHTTPConnection]] = {}
        self._open: set[httpcore.AsyncHTTPConnection] = set()  # idle, busy or connecting
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if request.url.scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol(f"unsupported scheme {request.url.scheme!r}")
        origin = request.url.origin
        key = (origin.scheme, origin.host, origin.port)  # an Origin is not hashable
        wait = request.extensions.get("timeout", {}).get("pool")
        while True:
            conn = await self._take(key, origin, wait)
            try:
                response = await conn.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:  # closed since it was taken: another one
                await self._give_back(key, conn)
                continue
            except BaseException:
                await self._give_back(key, conn)
                raise
            stream = _Stream(response.stream, self, key, conn)
            return httpcore.Response(
                status=response.status,
                headers=response.headers,
                content=stream,
                extensions=response.extensions,
            )

    async def _take(
        self, key: Key, origin: httpcore.Origin, wait: float | None
    ) -> httpcore.AsyncHTTPConnection:
        while True:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if not conn.has_expired():  # keep-alive left, and not closed by the server
                    return conn
                await self._close(conn)
            if len(self._open) >= self._size:
                other = next((conns for conns in self._idle.values() if conns), None)
                if other is None:
                    await self._wait(wait)
                else:
                    await self._close(other.pop(0))  # the longest idle, of another origin
                continue  # others ran meanwhile: count again (no await from here to the add)
            conn = httpcore.AsyncHTTPConnection(
                origin=origin,
                ssl_context=self._ssl,
                keepalive_expiry=self._expiry,
                network_backend=self._backend,
            )
            self._open.add(conn)
            return conn

    async def _wait(self, wait: float | None) -> None:
        """Until a connection is given back, at most `wait` seconds (httpcore's PoolTimeout)."""
        place = asyncio.get_running_loop().create_future()
        self._waiting.append(place)
        try:
            async with asyncio.timeout(wait):
                await place
        except BaseException as exc:
            if place.done() and not place.cancelled():
                self._wake()  # woken, then cancelled or timed out: the turn passes on
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(place)
            if isinstance(exc, TimeoutError):
                raise httpcore.PoolTimeout("no connection came free in time") from None
            raise

    def _wake(self) -> None:
        while self._waiting:
            place = self._waiting.popleft()
            if not place.done():
                place.set_result(None)
                return

    async def _give_back(self, key: Key, conn: httpcore.AsyncHTTPConnection) -> None:
        if conn.is_idle() and not conn.is_closed():  # a failed connect is "idle" and closed
            self._idle.setdefault(key, []).append(conn)
        else:
            await self._close(conn)
        self._wake()

    async def _close(self, conn: httpcore.AsyncHTTPConnection) -> None:
        self._open.discard(conn)
        await conn.aclose()

    async def aclose(self) -> None:
        conns, self._open, self._idle = list(self._open), set(), {}
        for conn in conns:
            await conn.aclose()


class _Stream:
    """A response's body; closing it gives its connection back to the pool."""

    def __init__(
        self,
        stream: object,
        pool: ProbePool,
        key: Key,
        conn: httpcore.AsyncHTTPConnection,
    ) -> None:
        self._stream, self._pool, self._key, self._conn = stream, pool, key, conn
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:  # type: ignore[attr-defined]
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with AsyncShieldCancellation():
                await self._stream.aclose()  # type: ignore[attr-defined]
        finally:
            await self._pool._give_back(self._key, self._conn)
