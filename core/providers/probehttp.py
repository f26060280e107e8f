"""The health probes' HTTP client, on aiohttp: its C HTTP parser and a pool whose cost per
request does not grow with its size.

A probe is one small request and answer, and a wide check sends hundreds at once: the client's
own CPU per request is what bounds it. Measured on the project's 2-core machine, 2,000 requests
at concurrency 200 to the fake provider: httpx's own pool 16-17 ms of CPU a request (it
re-examines every connection on each request), httpx on a pool of our own 1.1-1.45 ms, aiohttp
0.35-0.40 ms. aiohttp is already a dependency (`byok serve`); httpx stays for the spend sync's
few admin calls.

What the probes need of it, and how:
- at most `size` connections, idle ones kept alive and reused (`TCPConnector(limit=size)`);
- no cookies kept between probes (`DummyCookieJar`): a cookie that one endpoint sets must not
  ride along with another integration's key;
- redirects reported, not followed; proxies and CA bundle from the environment only with
  `trust_env` (`probe_trust_env`);
- the answer read up to a cap counted after decompression (`auto_decompress=False`, then
  `BoundedDecoder`, which offers only the encodings it can stop);
- the latency from the request's headers on the wire to the response's headers read (its trace
  signals), not the wait for a connection, the connect, nor this process's own CPU before.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import ssl
import string
import time
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
import yarl

from core.providers.transport import AnswerTooLarge, BoundedDecoder, Undecodable

# What probes accept: the encodings BoundedDecoder can stop at its cap.
ACCEPT_ENCODING = "gzip, deflate"
USER_AGENT = "byok-console health probe"
KEEPALIVE_S = 30.0
HEADER_BYTES = 65_536  # a header line or field at most (aiohttp's default is 8 KiB, h11's 64)


class Unreachable(Exception):
    """No HTTP answer: the connection or the exchange failed (the message says how)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes  # decoded
    latency_ms: int


@functools.cache
def tls_context(trust_env: bool) -> ssl.SSLContext:
    """One per process (loading the CA bundle takes ~20 ms): certifi's bundle, as httpx uses,
    or SSL_CERT_FILE / SSL_CERT_DIR from the environment with `trust_env`."""
    cafile = os.environ.get("SSL_CERT_FILE") if trust_env else None
    capath = os.environ.get("SSL_CERT_DIR") if trust_env else None
    if not cafile and not capath:
        import certifi

        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile or None, capath=capath or None)


async def _stamp(_session: Any, ctx: SimpleNamespace, _params: Any) -> None:
    stamps = ctx.trace_request_ctx
    if stamps is not None:
        stamps.append(time.perf_counter())


def _trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_stamp)
    trace.on_request_end.append(_stamp)  # fired once the response's headers are read
    return trace


class ProbeClient:
    """One loop's client: `size` connections at most, `connect_s` to connect one."""

    def __init__(self, size: int, *, connect_s: float, trust_env: bool) -> None:
        connector = aiohttp.TCPConnector(
            limit=size,
            limit_per_host=0,
            ssl=tls_context(trust_env),
            keepalive_timeout=KEEPALIVE_S,
        )
        # The environment's proxies read here, once (aiohttp's own trust_env reads them, and
        # ~/.netrc, in a worker thread on every request: two thread hops a probe).
        self._proxies = urllib.request.getproxies_environment() if trust_env else {}
        self._proxy_of: dict[tuple[str, str], tuple[yarl.URL | None, dict[str, str] | None]] = {}
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_s),
            headers={"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING},
            trace_configs=[_trace()],
            max_line_size=HEADER_BYTES,
            max_field_size=HEADER_BYTES,
            raise_for_status=False,
        )

    @property
    def is_closed(self) -> bool:
        return self._session.closed

    async def aclose(self) -> None:
        await self._session.close()

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Any,
        limit: int,
    ) -> Answer:
        """One exchange; the answer read up to `limit` bytes (AnswerTooLarge, Undecodable),
        Unreachable when there is none. Timeouts are the caller's (asyncio.timeout)."""
        data, sent = None, dict(headers)
        if body is not None:  # as httpx sends json=: compact UTF-8, and its content type
            data = json.dumps(
                body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
            sent.setdefault("content-type", "application/json")
        stamps: list[float] = []
        started = time.perf_counter()
        target = _url(url)
        proxy, proxy_headers = self._proxy(target)
        if proxy_headers and target.scheme == "http":  # sent to the proxy with the request
            sent.update(proxy_headers)  # (aiohttp sends proxy_headers with a CONNECT only)
            proxy_headers = None
        try:
            async with self._session.request(
                method, target, headers=sent, data=data, allow_redirects=False,
                trace_request_ctx=stamps, skip_auto_headers=() if data else _NO_BODY,
                proxy=proxy, proxy_headers=proxy_headers,
            ) as response:  # fmt: skip
                content = await _read_capped(response, limit)
        except aiohttp.ServerTimeoutError:  # a connect timeout (a ClientError too)
            raise TimeoutError() from None
        # a failed connection or exchange, a body cut short, an URL aiohttp refuses, a socket
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            raise Unreachable(_words(exc)) from None
        elapsed = stamps[-1] - stamps[0] if len(stamps) >= 2 else time.perf_counter() - started
        return Answer(response.status, response.headers, content, round(elapsed * 1000))

    def _proxy(self, url: yarl.URL) -> tuple[yarl.URL | None, dict[str, str] | None]:
        """The environment's proxy for `url` (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, as
        curl and httpx read them) and its credentials as a header; per scheme and host, once."""
        key = (url.scheme, url.host or "")
        found = self._proxy_of.get(key)
        if found is None:
            found = (None, None)
            chosen = self._proxies.get(url.scheme) or self._proxies.get("all")
            if chosen and not urllib.request.proxy_bypass_environment(key[1], self._proxies):
                proxy = yarl.URL(chosen if "://" in chosen else f"http://{chosen}")
                headers = None
                if proxy.user is not None:
                    pair = f"{proxy.user}:{proxy.password or ''}".encode()
                    headers = {"proxy-authorization": "Basic " + base64.b64encode(pair).decode()}
                    proxy = proxy.with_user(None)
                found = (proxy, headers)
            self._proxy_of[key] = found
        return found


_NO_BODY = ("content-type",)  # aiohttp would call an empty POST body octet-stream
_ENCODED = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")


def _url(url: str) -> yarl.URL:
    """The probe's URL as built, already encoded (a model id's `%3A` stays as the SDKs send
    it; yarl would decode it); one with other characters is quoted."""
    return yarl.URL(url, encoded=all(c in _ENCODED for c in url))


def _words(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The decoded body, refused past `limit` bytes read or decoded (AnswerTooLarge,
    Undecodable, each told the answer's status and Content-Encoding)."""
    encoding = response.headers.get("content-encoding", "")
    decoder = BoundedDecoder(encoding, limit)
    chunks, read = [], 0
    try:
        try:
            async for raw in response.content.iter_any():
                read += len(raw)
                if read > limit:  # bytes that may inflate to nothing
                    raise AnswerTooLarge(limit, decoded=False)
                chunks.append(decoder.decode(raw))
            chunks.append(decoder.flush())
        except zlib.error:
            raise Undecodable() from None
    except (AnswerTooLarge, Undecodable) as exc:
        exc.status, exc.encoding = response.status, encoding
        raise
    return b"".join(chunks)
