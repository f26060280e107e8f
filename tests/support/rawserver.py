"""A provider that answers whatever a test says, byte for byte, on 127.0.0.1.

Every request (any method, any path) gets the current `answer`: a status, raw header lines and a
raw body, so a test can send what no well-behaved server would (escape sequences, bidi
overrides, a key where a model id belongs). Stdlib only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b"{}"


class RawServer:
    """`with RawServer() as srv: srv.answer = Answer(...); ... srv.url ...`"""

    def __init__(self) -> None:
        self.answer = Answer()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                answer = outer.answer
                head = [b"HTTP/1.1 %d answer" % answer.status, b"connection: close"]
                head.append(b"content-length: %d" % len(answer.body))
                head += [name + b": " + value for name, value in answer.headers]
                self.wfile.write(b"\r\n".join(head) + b"\r\n\r\n" + answer.body)
                self.close_connection = True

            do_GET = do_POST = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
