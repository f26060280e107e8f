"""The health probes' HTTP transport: one bounded connection pool (`core.providers.pool`), a
cookie jar that keeps nothing, and reading an answer up to a cap counted after decompression.

Its own module so that httpx (~40 ms to import) is loaded by the first probe, not by every
process that imports `core`.
"""

from __future__ import annotations

import functools
import ssl
import zlib
from http.cookiejar import CookieJar, CookiePolicy
from typing import Any

import httpx

from core.providers.pool import ProbePool

# What probes accept: the encodings BoundedDecoder can stop at its cap (httpx would also offer
# br and zstd when their packages are installed, and decode them without a bound).
ACCEPT_ENCODING = "gzip, deflate"


class ProbeTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (its errors, its response wrapping) on `ProbePool`: at most `total`
    connections, taking and giving one back costs the same at any pool size."""

    KEEPALIVE_S = 30.0

    def __init__(self, total: int, trust_env: bool) -> None:
        tls = tls_context(trust_env)
        super().__init__(verify=tls, trust_env=trust_env)
        self._pool = ProbePool(total, tls, self.KEEPALIVE_S)  # type: ignore[assignment]


@functools.cache
def tls_context(trust_env: bool) -> ssl.SSLContext:
    """One per process: loading the CA bundle takes ~20 ms, and each wide check has a client."""
    return httpx.create_ssl_context(trust_env=trust_env)


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
