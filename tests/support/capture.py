"""A capture server on 127.0.0.1: records each request (method, path, query, headers, body) and
answers 200 with a body chosen by the request's path. Stdlib only, so the SDK capture script
(`tests/support/sdk_capture.py`, run in a throwaway virtualenv) and the fidelity tests share it.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Headers that say which client sent a request (telemetry, connection), not what it asks for.
VOLATILE_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "accept-encoding",
        "user-agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "x-amz-date",
        "x-goog-api-client",
        "x-together-client-user-agent",
        "x-fern-sdk-version",
        "x-fern-runtime",
        "x-fern-runtime-version",
        "x-fern-platform",
    }
)
_VOLATILE_PREFIXES = ("x-stainless-", "x-fern-")


@dataclass
class Captured:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
        }


@dataclass
class RawAnswer:
    """An answer sent byte for byte (status, raw header lines, raw body): what no well-behaved
    server would send (escape sequences, bidi overrides, a key where a model id belongs)."""

    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b"{}"

    def encode(self) -> bytes:
        head = [b"HTTP/1.1 %d answer" % self.status, b"connection: close"]
        head.append(b"content-length: %d" % len(self.body))
        head += [name + b": " + value for name, value in self.headers]
        return b"\r\n".join(head) + b"\r\n\r\n" + self.body


def stable_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers that carry meaning: lower-cased, without telemetry and connection headers."""
    return {
        k: v
        for k, v in sorted((k.lower(), v) for k, v in headers.items())
        if k not in VOLATILE_HEADERS and not k.startswith(_VOLATILE_PREFIXES)
    }


def default_answer(path: str) -> tuple[int, Any]:
    """A minimal success body of the route's documented shape, so an SDK parses it and stops."""
    if path.endswith("/check-api-key"):
        return 200, {"valid": True, "organization_id": "org", "owner_id": "owner"}
    if path.endswith("/key"):
        return 200, {"data": {"label": "sk-or-v1-x...x", "limit": None, "usage": 0}}
    if path.endswith("/foundation-models"):
        return 200, {"modelSummaries": []}
    if path.endswith("/api/tags"):
        return 200, {"models": []}
    if re.search(r"/v1beta/models$", path):
        return 200, {"models": []}
    if re.search(r"/models/[^/]+$", path):
        return 200, {"type": "model", "id": path.rsplit("/", 1)[1], "object": "model"}
    return 200, {"object": "list", "data": [], "has_more": False}


class CaptureServer:
    """`with CaptureServer() as srv: ... srv.url ... srv.take()`; `headers` go on every answer
    (an `answer` that is a RawAnswer is sent as it is, without them)."""

    def __init__(
        self,
        answer: Callable[[str], tuple[int, Any]] = default_answer,
        tls: ssl.SSLContext | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.requests: list[Captured] = []
        self._answer = answer
        extra = dict(headers or {})
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                url = urlsplit(self.path)
                seen = Captured(
                    self.command,
                    url.path,
                    parse_qs(url.query, keep_blank_values=True),
                    stable_headers(dict(self.headers.items())),
                    body,
                )
                with outer._lock:
                    outer.requests.append(seen)
                status, answer = outer._answer(url.path)
                if isinstance(answer, RawAnswer):
                    self.wfile.write(answer.encode())
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:  # boto3 sends a Bearer token only over HTTPS
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def take(self) -> list[Captured]:
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
