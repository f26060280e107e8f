"""`byok serve`'s guard: an access token in every URL, the websocket's Origin checked.

The console served in a browser can change keys and send them to any base URL, so reaching it
must take a secret. textual-serve (1.1) has no authentication; `GuardedServer` adds it without
forking it: textual-serve's own app is mounted under `/<token>/` inside an outer app whose
middleware refuses (403) every request whose first path segment is not the token (compared in
constant time), and every websocket whose Origin is not the address the console is served at. A
web page the operator visits cannot open the websocket (wrong Origin, and it does not know the
token), nor can another user of the machine (no token). The hook is `Server._make_app`
(textual-serve 1.1; tests/cli/test_serve.py fails if a release changes it).

The token is random per start (printed once, in the URL), or given for a service manager through
$BYOK_SERVE_TOKEN or `--token-file`. `--no-token` (for an authenticating proxy on the same
machine) is refused unless the bind address is loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from core.paths import SERVE_TOKEN_ENV
from core.smallfile import SmallFileError, read_small
from tui.cli.errors import UsageError

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,256}")  # URL-safe: it is a path segment
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def access_token(
    token_file: str | None, no_token: bool, host: str, environ: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The token that every URL must carry (None with `--no-token`, on loopback only) and where
    it was given (None: made up now, so it is printed; a given one never is, as logs last)."""
    if no_token:
        if not is_loopback(host):
            raise UsageError(
                f"--no-token is refused on {host}, which is not a loopback address: anyone who "
                "can reach it could manage the keys. Keep the token, or bind 127.0.0.1 behind "
                "an authenticating reverse proxy"
            )
        return None, None
    if token_file:
        try:
            raw = read_small(token_file, 4096, private=True)
        except FileNotFoundError:
            raise UsageError(f"--token-file {token_file} does not exist") from None
        except SmallFileError as exc:
            raise UsageError(f"--token-file {token_file}: {exc}") from None
        where = f"the token in {token_file}"
        return _checked(raw.decode("ascii", "replace").strip(), f"--token-file {token_file}"), where
    given = environ.get(SERVE_TOKEN_ENV, "").strip()
    if given:
        return _checked(given, f"${SERVE_TOKEN_ENV}"), f"the token in ${SERVE_TOKEN_ENV}"
    return secrets.token_urlsafe(32), None


def _checked(token: str, where: str) -> str:
    if not TOKEN_RE.fullmatch(token):
        raise UsageError(
            f"the token in {where} must be 32 to 256 characters of A-Z a-z 0-9 _ - "
            "(make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token


def public_origin(host: str, port: int, public_url: str | None) -> str:
    """The origin browsers load the console from: `--public-url`'s, else the bind address's."""
    if public_url:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise UsageError(
                f"--public-url {public_url} must be an http:// or https:// origin without a "
                "path, such as https://byok.example.com"
            )
        return f"{parts.scheme}://{parts.netloc}"
    if host in WILDCARDS:
        raise UsageError(
            f"--host {host or '(all)'} binds every address: say which one browsers use with "
            "--public-url (such as https://byok.example.com behind a TLS proxy)"
        )
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def allowed_origins(host: str, port: int, origin: str) -> frozenset[str]:
    """The Origins a websocket may come from: the public one, and on loopback its other names."""
    names = {origin}
    if is_loopback(host):
        names |= {f"http://{n}:{port}" for n in ("localhost", "127.0.0.1", "[::1]")}
    return frozenset(names)


class GuardedServer(Server):
    """textual-serve's Server behind the token and the Origin check (see the module doc)."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str | None,
        given_by: str | None = None,
        public_url: str | None = None,
    ) -> None:
        origin = public_origin(host, port, public_url)
        super().__init__(command, host=host, port=port, title="byok console", public_url=origin)
        self.token = token
        self.origins = allowed_origins(host, port, origin)
        shown = f"<{given_by}>" if given_by else token
        self.url = f"{origin}/{shown}/" if token else f"{origin}/"

    def initialize_logging(self) -> None:
        super().initialize_logging()
        if self.token:  # the access log prints every path, and every path holds the token
            logging.getLogger("aiohttp.access").addFilter(_Redact(self.token))

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(f"byok console: open {self.url}", highlight=False, soft_wrap=True)
        if self.token is None:
            self.console.print("no access token (--no-token): every local user can open it")
        self.console.print("Press Ctrl+C to quit")

    async def _make_app(self) -> web.Application:
        inner = await super()._make_app()  # textual-serve's routes: /, /ws, /static, /download
        if self.token is None:
            inner.middlewares.append(self._guard)
            return inner
        outer = web.Application(middlewares=[self._guard])
        outer.add_subapp(f"/{self.token}", inner)
        return outer

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is not None:
            first = request.path.split("/", 2)[1]
            if not hmac.compare_digest(first.encode(), self.token.encode()):
                return _refused("open the address that `byok serve` printed: it holds the token")
            if request.path == f"/{self.token}":
                raise web.HTTPFound(f"/{self.token}/")
        origin = request.headers.get("Origin")
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if (origin is not None or websocket) and origin not in self.origins:
            return _refused("a request from another site is refused")
        response = await handler(request)
        if not response.prepared:  # a websocket or a download has sent its headers already
            response.headers.update(SECURITY_HEADERS)
        return response


# No page may frame the console (clickjacking) and no URL (it holds the token) leaves as a
# Referer, e.g. to the web font the page loads; nothing is cached.
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def _refused(why: str) -> web.Response:
    return web.Response(
        status=403, text=f"byok serve: forbidden: {why}\n", headers=SECURITY_HEADERS
    )


class _Redact(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token in message:
            record.msg, record.args = message.replace(self._token, "<token>"), ()
        return True
