"""A provider that answers whatever a test says, byte for byte, on 127.0.0.1: the capture
server (which also records each request) with one settable `answer` for every route."""

from __future__ import annotations

from typing import Any

from support.capture import CaptureServer
from support.capture import RawAnswer as Answer

__all__ = ["Answer", "RawServer"]


class RawServer(CaptureServer):
    """`with RawServer() as srv: srv.answer = Answer(401, [(b"x", b"y")], b"..."); srv.url`"""

    def __init__(self) -> None:
        self.answer = Answer()
        super().__init__(answer=self._current)

    def _current(self, _path: str) -> tuple[int, Any]:
        return self.answer.status, self.answer
