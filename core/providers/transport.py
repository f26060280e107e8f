"""The health probes' HTTP transport: one connection pool split into small shards, a cookie jar
that keeps nothing, and reading an answer up to a cap counted after decompression.

Its own module so that httpx (~40 ms to import) is loaded by the first probe, not by every
process that imports `core`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, CookiePolicy
from typing import Any

import httpcore
import httpx

from core.providers.netstream import ProbeBackend

# What probes accept: the encodings BoundedDecoder can stop at its cap (httpx would also offer
# br and zstd when their packages are installed, and decode them without a bound).
ACCEPT_ENCODING = "gzip, deflate"


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


class _KeepNoCookies(CookiePolicy):
    """Probes of different integrations share one client: a cookie that one endpoint sets must
    not ride along with another integration's key (nor with the next probe of the same one)."""

    netscape, rfc2965, hide_cookie2 = True, False, False

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


def cookieless_jar() -> CookieJar:
    return CookieJar(policy=_KeepNoCookies())


class AnswerTooLarge(Exception):
    """The answer went past the cap; `decoded` says whether decompression took it there."""

    def __init__(self, limit: int, decoded: bool) -> None:
        super().__init__(limit)
        self.limit, self.decoded = limit, decoded


class Undecodable(Exception):
    """The body does not decompress as its Content-Encoding says."""


class BoundedDecoder:
    """Content-Encoding decoding that never produces more than `limit` bytes in all.

    zlib's `max_length` bounds each step's output, so a gzip bomb costs at most `limit` bytes of
    memory before it is refused (httpx's decoders inflate a whole network chunk at once: 64 KiB
    of a bomb is 64 MiB). Encodings other than gzip and deflate (never asked for) pass through.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        names = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        self._steps = [_Inflate(n, limit) for n in reversed(names) if n in _WBITS]
        self._limit = limit
        self._out = 0

    def decode(self, data: bytes) -> bytes:
        for step in self._steps:
            data = step.feed(data, self._limit - self._out)
        return self._count(data)

    def flush(self) -> bytes:
        data = b""
        for step in self._steps:
            data = step.feed(data, self._limit - self._out) + step.flush()
        return self._count(data)

    def _count(self, data: bytes) -> bytes:
        self._out += len(data)
        if self._out > self._limit:
            raise AnswerTooLarge(self._limit, decoded=bool(self._steps))
        return data


_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class _Inflate:
    def __init__(self, name: str, limit: int) -> None:
        self._wbits, self._limit = _WBITS[name], limit
        self._raw_fallback = name == "deflate"  # some servers send it without the zlib header
        self._z = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """What `data` inflates to: at most room + 1 bytes, one more than fits (the caller's
        count refuses it), or AnswerTooLarge when even that leaves input unread."""
        try:
            out = self._z.decompress(data, max(room, 0) + 1)
        except zlib.error:
            if not (self._raw_fallback and not self._started):
                raise Undecodable() from None
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, max(room, 0) + 1)
        self._started = True
        if self._z.unconsumed_tail:  # max_length reached: this layer alone is past the cap
            raise AnswerTooLarge(self._limit, decoded=True)
        return out

    def flush(self) -> bytes:
        try:
            return self._z.flush()
        except zlib.error:
            raise Undecodable() from None


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body of a streamed `response`, refused past `limit` bytes read or decoded."""
    decoder = BoundedDecoder(response.headers.get("content-encoding", ""), limit)
    chunks = []
    try:
        async for raw in response.aiter_raw():
            if response.num_bytes_downloaded > limit:  # bytes that may inflate to nothing
                raise AnswerTooLarge(limit, decoded=False)
            chunks.append(decoder.decode(raw))
        chunks.append(decoder.flush())
    except zlib.error:
        raise Undecodable() from None
    return b"".join(chunks)
