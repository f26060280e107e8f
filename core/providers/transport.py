"""Reading a probe's answer up to a cap counted after decompression (`core.providers.probehttp`
sends the probes). No HTTP library here: the decoding is plain zlib.
"""

from __future__ import annotations

import zlib


class AnswerTooLarge(Exception):
    """The answer went past the cap; `decoded` says whether decompression took it there."""

    status, encoding = 0, ""  # the answer's status and Content-Encoding, set by the client

    def __init__(self, limit: int, decoded: bool) -> None:
        super().__init__(limit)
        self.limit, self.decoded = limit, decoded


class Undecodable(Exception):
    """The body does not decompress as its Content-Encoding says."""

    status, encoding = 0, ""  # the answer's status and Content-Encoding, set by the client


class BoundedDecoder:
    """Content-Encoding decoding that never produces more than `limit` bytes in all.

    zlib's `max_length` bounds each step's output, so a gzip bomb costs at most `limit` bytes of
    memory before it is refused (a decoder that inflates a whole network chunk at once turns
    64 KiB of a bomb into 64 MiB). Encodings other than gzip and deflate (never asked for)
    pass through.
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
