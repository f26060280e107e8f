"""A fake LLM provider server for tests, the benchmark and `byok demo`: stdlib only, real sockets.

It answers every provider's probe route (and a minimal chat/messages completion route for the deep
probe, and Anthropic's one-model route that resolves an alias) on 127.0.0.1, checks that
provider's own authentication header, and plays a scripted outcome. Its knowledge of the routes
is written here independently of `core.providers.probes`, so a probe that calls the wrong route or
sends the wrong header fails against it, as it would for real.

Choosing an outcome, first match wins:
1. `server.script(key, outcome, route=None)`: for requests presenting that key;
2. an outcome written into the key itself between @ signs: `sk-test@slow:150@abc`;
3. `server.set_outcome(provider, outcome, route="probe"|"chat")`;
4. the server's default outcome (`ok`).

Outcomes: ok, slow:MS, 400, 401, 402, 403, 404, 429[:RETRY_AFTER_S], quota (OpenAI's 429
insufficient_quota), 500, 503, 529, gemini_invalid (400 API_KEY_INVALID), cohere_invalid
(200 valid:false), malformed (200, not JSON), hang (never answers), reset (TCP reset), close
(closes without answering), echo (401 whose body echoes the key), drip[:S] (sends a header
line every 0.1 s for S seconds: only an overall deadline stops it). For a refused connection use
`refused_base_url()`: a port nothing listens on.

    with FakeProviderServer() as server:
        base = server.base_url_for("anthropic")   # http://127.0.0.1:PORT/anthropic
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tui.demo.fakeadmin import FakeAdmin

# The API root of each provider below the server's /{provider} prefix (what its SDK takes).
ROOTS: dict[str, str] = {
    "openai": "/v1",
    "mistral": "/v1",
    "groq": "/openai/v1",
    "together": "/v1",
    "deepseek": "",
    "openrouter": "/api/v1",
    "custom": "/v1",
    "anthropic": "",
    "azure_openai": "",
    "google": "",
    "cohere": "",
    "bedrock": "",
    "ollama": "",
}
BEARER = {
    "openai",
    "mistral",
    "groq",
    "together",
    "deepseek",
    "openrouter",
    "custom",
    "cohere",
    "bedrock",
}
OPENAI_LIKE = {"openai", "mistral", "groq", "together", "deepseek", "openrouter", "custom"}


Route = tuple[str, re.Pattern[str]]  # (method, path regex)


def _routes(probe: str, chat: str, probe_verb: str = "GET") -> dict[str, Route]:
    """The (method, route regex) of a provider's probe and of its completion."""
    return {"probe": (probe_verb, re.compile(probe)), "chat": ("POST", re.compile(chat))}


# Per provider, from the public docs.
ROUTES: dict[str, dict[str, Route]] = {
    **{name: _routes(r"/models", r"/chat/completions") for name in OPENAI_LIKE - {"openrouter"}},
    "openrouter": _routes(r"/key", r"/chat/completions"),
    "anthropic": _routes(r"/v1/models", r"/v1/messages"),
    "azure_openai": _routes(r"/openai/models", r"/openai/deployments/[^/]+/chat/completions"),
    "google": _routes(r"/v1(beta)?/models", r"/v1(beta)?/models/[^/]+:generateContent"),
    "cohere": _routes(r"/v1/check-api-key", r"/v2/chat", probe_verb="POST"),
    "bedrock": _routes(r"/foundation-models", r"/model/[^/]+/converse"),
    "ollama": _routes(r"/api/tags", r"/api/chat"),
}

# Anthropic's GET /v1/models/{model_id}: one model, an alias resolved to its dated id.
ROUTES["anthropic"]["model"] = ("GET", re.compile(r"/v1/models/[^/]+"))

DEFAULT_MODELS: dict[str, list[str]] = {
    "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1"],
    "mistral": ["mistral-large-latest", "mistral-small-latest"],
    "groq": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
    "together": ["meta-llama/Llama-3.3-70B-Instruct-Turbo"],
    "deepseek": ["deepseek-chat", "deepseek-reasoner"],
    "custom": ["local-model"],
    "anthropic": ["claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022"],  # dated ids
    "azure_openai": ["gpt-4o", "gpt-4o-mini"],
    "google": ["gemini-2.5-flash", "gemini-2.5-pro"],
    "bedrock": ["anthropic.claude-3-5-sonnet-20240620-v1:0", "amazon.nova-pro-v1:0"],
    "ollama": ["llama3.2:latest", "qwen2.5:7b"],
}
_KEY_OUTCOME = re.compile(r"@([a-z0-9_:.]+)@")


@dataclass(frozen=True)
class Outcome:
    name: str
    arg: float | None = None

    @classmethod
    def parse(cls, text: str | Outcome) -> Outcome:
        if isinstance(text, Outcome):
            return text
        name, _, arg = str(text).partition(":")
        known = {
            "ok", "slow", "400", "401", "402", "403", "404", "429", "quota", "500", "503", "529",
            "gemini_invalid", "cohere_invalid", "malformed", "hang", "reset", "close", "echo",
            "drip",
        }  # fmt: skip
        if name not in known:
            raise ValueError(f"unknown fake outcome {text!r}")
        return cls(name, float(arg) if arg else None)


@dataclass
class Seen:
    """One request as the server saw it (the key itself is kept only in memory)."""

    provider: str
    route: str
    method: str
    path: str
    key: str | None
    outcome: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    fake: FakeProviderServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection is dropped after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read results
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle plus the client's
        # delayed ACK would add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # a reset or closed connection has nothing left to flush
        finally:
            self.server.fake._closed(self.connection)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.server.fake._handle(self, method)

    # -- writing answers ------------------------------------------------------------------------

    def send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)


class FakeProviderServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, default: str = "ok") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake provider only listens on loopback")
        self.host, self.port = host, port
        self.default = Outcome.parse(default)
        self.models: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_MODELS.items()}
        self.requests: list[Seen] = []
        self.admin = FakeAdmin()  # the admin (usage, cost, balance) routes: tui.demo.fakeadmin
        self.hang_s = 60.0
        self._by_key: dict[tuple[str, str | None], Outcome] = {}
        self._by_route: dict[tuple[str, str], Outcome] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._counted_conns: set[socket.socket] = set()
        self.open_connections = 0
        self.max_open_connections = 0
        self.total_connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifetime -------------------------------------------------------------------------------

    def start(self) -> FakeProviderServer:
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._stop.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # hanging handlers return
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------------------

    def base_url_for(self, provider: str) -> str:
        if provider not in ROOTS:
            raise ValueError(f"unknown provider {provider!r}")
        return f"http://{self.host}:{self.port}/{provider}{ROOTS[provider]}"

    def script(self, key: str, outcome: str | Outcome, route: str | None = None) -> None:
        """Play `outcome` for requests that present `key` (on `route`, or on every route)."""
        with self._lock:
            self._by_key[(key, route)] = Outcome.parse(outcome)

    def set_outcome(self, provider: str, outcome: str | Outcome, route: str = "probe") -> None:
        with self._lock:
            self._by_route[(provider, route)] = Outcome.parse(outcome)

    def reset(self) -> None:
        with self._lock:
            self._by_key.clear()
            self._by_route.clear()
            self.requests.clear()
            self.max_open_connections = self.open_connections
            self.total_connections = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "open_connections": self.open_connections,
                "max_open_connections": self.max_open_connections,
                "total_connections": self.total_connections,
                "requests": len(self.requests),
            }

    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _counted(self, conn: socket.socket) -> None:
        """Count a connection once it makes a provider request (stats requests don't count)."""
        with self._lock:
            if conn in self._conns and conn not in self._counted_conns:
                self._counted_conns.add(conn)
                self.open_connections += 1
                self.total_connections += 1
                self.max_open_connections = max(self.max_open_connections, self.open_connections)

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)
            if conn in self._counted_conns:
                self._counted_conns.discard(conn)
                self.open_connections -= 1

    # -- answering ------------------------------------------------------------------------------

    def _handle(self, h: _Handler, method: str) -> None:
        url = urlsplit(h.path)
        if url.path == "/__fake/stats":
            h.send(200, self.stats())
            return
        self._counted(h.connection)
        provider, _, rest = url.path.lstrip("/").partition("/")
        rest = "/" + rest
        if provider not in ROUTES or not rest.startswith(ROOTS[provider] or "/"):
            h.send(404, {"error": {"message": f"no such route {url.path}"}})
            return
        sub = rest[len(ROOTS[provider]) :] or "/"
        admin = self.admin.answer(provider, sub, url.query, h.headers)
        if admin is not None:
            with self._lock:
                self.requests.append(Seen(provider, "admin", method, url.path, None, str(admin[0])))
            h.send(*admin)
            return
        route = None
        for name, (verb, pattern) in ROUTES[provider].items():
            if pattern.fullmatch(sub):
                route = name if verb == method else "wrong_method"
                break
        if route is None or route == "wrong_method":
            status = 405 if route else 404
            h.send(status, {"error": {"message": f"{method} {sub} is not a {provider} route"}})
            return
        key, problem = self._auth(provider, h, url.query)
        outcome = self._choose(provider, route, key)
        with self._lock:
            self.requests.append(Seen(provider, route, method, url.path, key, outcome.name))
        if problem:
            h.send(401, {"error": {"message": problem, "type": "authentication_error"}})
            return
        self._play(h, provider, route, outcome, key or "", sub)

    def _auth(self, provider: str, h: _Handler, query: str) -> tuple[str | None, str | None]:
        """The presented key and, when the provider's own header is missing, why it is refused."""
        headers = h.headers
        if provider == "anthropic":
            if not headers.get("anthropic-version"):
                return headers.get("x-api-key"), "anthropic-version header required"
            key = headers.get("x-api-key")
            return key, None if key else "x-api-key header required"
        if provider == "azure_openai":
            if not parse_qs(query).get("api-version"):
                return headers.get("api-key"), "api-version query parameter required"
            key = headers.get("api-key")
            return key, None if key else "api-key header required"
        if provider == "google":
            key = headers.get("x-goog-api-key") or (parse_qs(query).get("key") or [None])[0]
            return key, None if key else "x-goog-api-key header required"
        auth = headers.get("authorization") or ""
        key = auth[7:] if auth.lower().startswith("bearer ") and len(auth) > 7 else None
        if provider in ("ollama", "custom") and not auth:
            return None, None
        return key, None if key else "Authorization: Bearer <key> required"

    def _choose(self, provider: str, route: str, key: str | None) -> Outcome:
        with self._lock:
            if key is not None:
                for k in ((key, route), (key, None)):
                    if k in self._by_key:
                        return self._by_key[k]
                found = _KEY_OUTCOME.search(key)
                if found:
                    return Outcome.parse(found.group(1))
            return self._by_route.get((provider, route), self.default)

    def _play(
        self, h: _Handler, provider: str, route: str, outcome: Outcome, key: str, sub: str
    ) -> None:
        name = outcome.name
        if name == "slow":
            if self._stop.wait((outcome.arg or 0) / 1000.0):
                return
            name = "ok"
        if name == "hang":
            self._stop.wait(outcome.arg or self.hang_s)
            h.close_connection = True
            return
        if name == "drip":  # answers one header line at a time: per-read timeouts never fire
            h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            end = time.monotonic() + (outcome.arg or 30.0)
            while time.monotonic() < end and not self._stop.wait(0.1):
                h.wfile.write(b"x-drip: 1\r\n")
            h.close_connection = True
            return
        if name in ("reset", "close"):
            if name == "reset":
                h.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            h.close_connection = True
            h.connection.close()
            return
        if name == "ok":
            body, headers = self._ok_body(provider, route, sub)
            h.send(404 if body is None else 200, body or _not_found(sub), headers)
        elif name == "malformed":
            h.send(200, b'{"data": [ {"id": "gpt-4o", ')
        elif name == "cohere_invalid":
            h.send(200, {"valid": False, "organization_id": None, "owner_id": None})
        elif name == "gemini_invalid":
            h.send(400, _gemini_invalid())
        elif name == "echo":
            h.send(
                401, {"error": {"message": f"Incorrect API key provided: {key}. Also {key[:8]}"}}
            )
        elif name == "quota":
            h.send(429, _openai_error("You exceeded your current quota.", "insufficient_quota"))
        elif name == "429":
            retry = {"retry-after": f"{outcome.arg:g}"} if outcome.arg is not None else {}
            h.send(429, _openai_error("Rate limit reached", "rate_limit_exceeded"), retry)
        elif name == "529":
            h.send(
                529,
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            )
        else:
            status = int(name)
            masked = (key[:3] + "*" * 10 + key[-4:]) if len(key) > 8 else "***"
            text = {
                400: "bad request",
                401: f"Incorrect API key provided: {masked}",
                402: "Insufficient balance: add credit to continue",
                403: "This key may not access this resource",
                404: "The resource was not found",
                500: "The server had an error while processing your request",
                503: "The engine is currently overloaded, please try again later",
            }[status]
            h.send(status, _openai_error(text, str(status)))

    def _ok_body(self, provider: str, route: str, sub: str) -> tuple[Any, dict[str, str]]:
        models = self.models.get(provider, [])
        if route == "chat":
            return _completion(provider)
        if route == "model":
            return _anthropic_model(models, sub.rsplit("/", 1)[1])
        if provider in ("anthropic",):
            return {"data": [{"id": m, "type": "model"} for m in models], "has_more": False}, {}
        if provider == "google":
            return {"models": [{"name": f"models/{m}"} for m in models]}, {}
        if provider == "ollama":
            return {"models": [{"name": m, "model": m} for m in models]}, {}
        if provider == "bedrock":
            return {"modelSummaries": [{"modelId": m} for m in models]}, {}
        if provider == "cohere":
            return {"valid": True, "organization_id": "org-fake", "owner_id": "owner-fake"}, {}
        if provider == "openrouter":
            data = {
                "label": "sk-or-v1-abc...xyz",
                "limit": 100,
                "limit_remaining": 74.5,
                "usage": 25.5,
                "is_free_tier": False,
            }
            return {"data": data}, {}
        if provider == "together":  # a bare array, as Together's API reference shows
            return [{"id": m, "object": "model", "type": "chat"} for m in models], {}
        return {"object": "list", "data": [{"id": m, "object": "model"} for m in models]}, {}


def _anthropic_model(models: list[str], wanted: str) -> tuple[Any, dict[str, str]]:
    """The model `wanted` names, as Anthropic resolves it: an id, `name` for its newest dated id
    (`claude-sonnet-4-5`), or `name-latest` likewise; None (a 404) for no model."""
    base = wanted.removesuffix("-latest")
    dated = sorted(m for m in models if re.fullmatch(re.escape(base) + r"-\d{8}", m))
    found = wanted if wanted in models else (dated[-1] if dated else None)
    if found is None:
        return None, {}
    day = found[-8:] if found[-8:].isdigit() else "20250101"
    created = f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00Z"
    return {"type": "model", "id": found, "display_name": found, "created_at": created}, {}


def _not_found(sub: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "not_found_error", "message": f"model: {sub}"}}


def _openai_error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}}


def _gemini_invalid() -> dict[str, Any]:
    return {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        }
    }


def _completion(provider: str) -> tuple[Any, dict[str, str]]:
    if provider == "anthropic":
        body = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "p"}],
            "usage": {"input_tokens": 8, "output_tokens": 1},
        }
        headers = {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-tokens-limit": "40000",
            "anthropic-ratelimit-tokens-remaining": "39991",
            "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:01Z",
        }
        return body, headers
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "p"}}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
    }
    headers = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29991",
        "x-ratelimit-reset-requests": "120ms",
    }
    return body, headers


def refused_base_url(provider: str = "openai") -> str:
    """A base URL on 127.0.0.1 whose port nothing listens on: connecting is refused."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # not listening: the kernel answers a connect with RST (refused)
    return f"http://127.0.0.1:{port}/{provider}{ROOTS.get(provider, '')}"


def main(argv: list[str] | None = None) -> int:
    """Run the server in the foreground (bench, manual demos): prints `READY <port>`."""
    parser = argparse.ArgumentParser(prog="python -m tui.demo.fakeprovider")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--default", default="ok", help="outcome when nothing else is scripted")
    args = parser.parse_args(argv)
    server = FakeProviderServer(port=args.port, default=args.default).start()
    print(f"READY {server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
