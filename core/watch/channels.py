"""Where alerts go: named Apprise URLs in `channels.toml` (in byok's config directory).

    [channels.ops-slack]
    url = "env:BYOK_SLACK_URL"              # the URL from the environment (systemd's Environment=)

    [channels.oncall-mail]
    url = "file:/etc/byok/oncall-mail.url"  # or from a file, read when a message is sent

A `url` may also be written in the file itself (`json://hooks.example.com/byok`); the file must
then be private (no access for group or others), as must any file a `file:` names. An Apprise
URL holds its service's secret (a webhook token, an SMTP password), so it is resolved only when
a message goes out and never logged, stored in the database or shown: errors name the channel.
References to byok's own secrets are refused, as for credentials (docs/security.md).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import CredentialError, ValidationError
from core.integrations.credentials import Vault, resolve

CHANNELS_FILE = "channels.toml"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SEND_TIMEOUT_S = 15.0


class DeliveryError(Exception):
    """A channel did not take a message; the text names the channel, never its URL."""


@dataclass(frozen=True)
class Channel:
    name: str
    url: str  # a literal Apprise URL, or an env:/file: reference to one

    def __repr__(self) -> str:  # never show a literal URL, even in a traceback
        return f"Channel({self.name!r})"

    def resolve(self, vault: Vault, db_path: Path, environ: Mapping[str, str]) -> str:
        source, _, ref = self.url.partition(":")
        if source not in ("env", "file") or not ref:
            return self.url
        try:
            value = resolve(
                {"source": source, "ref": ref},
                vault,
                "-",
                f"channel {self.name}",
                environ,
                db_path=db_path,
            )
        except CredentialError as exc:
            raise DeliveryError(str(exc)) from None
        if not value:
            raise DeliveryError(f"the channel {self.name} names an empty URL")
        return value

    def send(
        self,
        title: str,
        body: str,
        *,
        vault: Vault,
        db_path: Path,
        environ: Mapping[str, str],
    ) -> None:
        """Deliver one message through Apprise; raises DeliveryError when it was not taken."""
        import apprise  # an import of ~100 ms: only a process that sends pays it

        url = self.resolve(vault, db_path, environ)
        quiet()
        sender = apprise.Apprise()
        if not sender.add(url):
            raise DeliveryError(f"the channel {self.name} has a URL Apprise does not understand")
        with apprise.LogCapture(level=logging.WARNING) as captured:
            ok = sender.notify(body=body, title=title)
        if not ok:
            detail = _scrub(captured.getvalue(), url)
            raise DeliveryError(f"the channel {self.name} did not take the message" + detail)


def _scrub(log: str, url: str) -> str:
    """The last line Apprise logged, without any part of the URL (host aside) in it."""
    lines = [line.rsplit(" - ", 1)[-1] for line in log.splitlines() if line.strip()]
    if not lines:
        return ""
    text = lines[-1]
    for part in re.split(r"[/:@?&=#]+", url):
        if len(part) >= 4 and not re.fullmatch(r"[\d.]+|localhost|https?|json|xml|form", part):
            text = text.replace(part, "…")
    return f": {text[:300]}"


def quiet() -> None:
    """Apprise logs through `apprise`; keep its lines (which may quote URLs) off our stderr."""
    log = logging.getLogger("apprise")
    log.propagate = False
    if not log.handlers:
        log.addHandler(logging.NullHandler())


def channels_path(config_dir: Path) -> Path:
    return config_dir / CHANNELS_FILE


def load_channels(path: Path) -> dict[str, Channel]:
    """The channels of `path` (none when it does not exist). Raises ValidationError naming the
    file and what is wrong, without quoting a URL."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}", "channels") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValidationError(f"{path} is not a regular file", "channels")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", "channels") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path} is not valid TOML: {exc}", "channels") from None
    table = data.get("channels", {})
    if not isinstance(table, dict) or set(data) - {"channels"}:
        raise ValidationError(f"{path}: expected only [channels.NAME] tables", "channels")
    out: dict[str, Channel] = {}
    literal = False
    for name, spec in table.items():
        where = f"{path}: channel {name!r}"
        if not _NAME.fullmatch(name):
            raise ValidationError(
                f"{where}: a name is 1-64 letters, digits, '_', '.', '-'", "channels"
            )
        if not isinstance(spec, dict) or set(spec) != {"url"} or not isinstance(spec["url"], str):
            raise ValidationError(f'{where}: expected exactly one key, url = "..."', "channels")
        url = spec["url"].strip()
        if not url or any(ord(c) < 32 or ord(c) == 127 for c in url):
            raise ValidationError(
                f"{where}: the url is empty or holds control characters", "channels"
            )
        literal = literal or not url.startswith(("env:", "file:"))
        out[name] = Channel(name, url)
    if literal and st.st_mode & 0o077:
        raise ValidationError(
            f"{path} holds channel URLs and is readable by others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}): run `chmod 600 {path}`, or move the URLs into "
            "env: or file: references",
            "channels",
        )
    return out
