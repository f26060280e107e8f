"""The probes' network streams: httpcore's anyio ones, without their per-call overheads.

Measured at 500 probes: anyio rebuilt a stream's whole attribute table (a `getpeername` among
others) on every `get_extra_info`, which httpcore's pool calls for every idle connection on every
request start and end, and wrapped each read and write in an anyio cancel scope: together about
a third of the prober's CPU. Here the socket is looked up once, and reads and writes run under
`asyncio.timeout` (cheap; the probe's overall deadline is an `asyncio.timeout` too).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
from httpcore._backends.anyio import AnyIOBackend, AnyIOStream
from httpcore._utils import is_socket_readable

_READ_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)
_WRITE_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class ProbeStream(AnyIOStream):
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        super().__init__(stream)
        self._sock: socket.socket | None = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._stream.receive(max_bytes=max_bytes)
        except anyio.EndOfStream:
            return b""
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(exc) from exc
        except _READ_ERRORS as exc:
            raise httpcore.ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._stream.send(item=buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(exc) from exc
        except _WRITE_ERRORS as exc:
            raise httpcore.WriteError(exc) from exc

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await super().start_tls(ssl_context, server_hostname, timeout)
        assert isinstance(tls, AnyIOStream)
        return ProbeStream(tls._stream)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._sock)
        if info == "socket":
            return self._sock
        return super().get_extra_info(info)


class ProbeBackend(AnyIOBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await super().connect_tcp(host, port, timeout, local_address, socket_options)
        assert isinstance(stream, AnyIOStream)
        return ProbeStream(stream._stream)
