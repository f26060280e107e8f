"""Credentials: raw secrets encrypted at rest, or references resolved only when used.

A raw secret is sealed with AES-256-GCM under the master key; the associated data binds it to its
tenant and integration, so a ciphertext copied onto another integration does not decrypt. The
sealed form is versioned (`v`) and names the key by fingerprint (`kid`), so a wrong master key is
reported as such instead of as corruption. No message here ever contains the secret.

A reference is never allowed to name byok's own secret material (see `refusal` and
docs/security.md): it would be sent to the integration's base URL as a Bearer token, so whoever
can write the database, or add an integration, would receive the master key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import validation as v
from core.enums import CredentialSource, ProviderType
from core.errors import CredentialError, ValidationError
from core.paths import (
    KEY_FILE_ENV,
    MASTER_KEY_ENV,
    SERVE_TOKEN_ENV,
    belongs_to_db,
    default_key_path,
)
from core.smallfile import NotPrivate, SmallFileError, read_small
from core.storage import ensure_private_dir

SEALED_VERSION = 1
MAX_SECRET_LENGTH = 8192
FILE_LIMIT = 64 * 1024  # a key file, with room for comments or a PEM block; not a disk image
KEY_FILE_LIMIT = 4096
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
KEYLESS_PROVIDERS = frozenset({ProviderType.OLLAMA, ProviderType.CUSTOM})
# byok's own settings and secrets: never a provider key
RESERVED_ENV = frozenset({MASTER_KEY_ENV, KEY_FILE_ENV, SERVE_TOKEN_ENV})
PROC = Path("/proc")


@dataclass(frozen=True)
class CredentialSpec:
    """A parsed `credential` argument. `value` is the secret, the variable name or the path."""

    source: CredentialSource
    value: str = ""

    def __repr__(self) -> str:  # never show a raw secret, even in a traceback
        shown = "…" if self.source is CredentialSource.ENCRYPTED else self.value
        return f"CredentialSpec({self.source.value}, {shown!r})"


def parse_credential(raw: object, provider: ProviderType) -> CredentialSpec:
    """Check a `credential` argument; raise ValidationError (never echoing it) when it is bad."""
    if not isinstance(raw, str):
        raise ValidationError(
            "must be a string: a secret, env:NAME or file:/absolute/path", "credential"
        )
    text = raw.strip()
    if not text:
        if provider in KEYLESS_PROVIDERS:
            return CredentialSpec(CredentialSource.NONE)
        raise ValidationError(f"is required for {provider.value}", "credential")
    if text.startswith("env:"):
        name = text[4:].strip()
        if not _ENV_NAME.fullmatch(name):
            raise ValidationError(
                "env: must be followed by a variable name such as OPENAI_API_KEY", "credential"
            )
        return CredentialSpec(CredentialSource.ENV, name)
    if text.startswith("file:"):
        path = text[5:].strip()
        if not path or "\x00" in path or not os.path.isabs(os.path.expanduser(path)):
            raise ValidationError("file: must be followed by an absolute path", "credential")
        return CredentialSpec(CredentialSource.FILE, os.path.expanduser(path))
    if len(text) > MAX_SECRET_LENGTH:
        raise ValidationError(f"is longer than {MAX_SECRET_LENGTH} characters", "credential")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValidationError("a secret cannot contain spaces or control characters", "credential")
    if not v.header_safe(text):
        raise ValidationError(f"the secret {v.NOT_A_HEADER}", "credential")
    return CredentialSpec(CredentialSource.ENCRYPTED, text)


def mask(secret: str) -> str:
    """At most the first 3 and the last 4 characters; less of a short secret."""
    if len(secret) >= 20:
        return f"{secret[:3]}…{secret[-4:]}"
    if len(secret) >= 12:
        return f"…{secret[-4:]}"
    return "…"


def hint_for(spec: CredentialSpec) -> str | None:
    if spec.source is CredentialSource.ENCRYPTED:
        return mask(spec.value)
    if spec.source is CredentialSource.ENV:
        return f"env:{spec.value}"
    if spec.source is CredentialSource.FILE:
        return f"file:{spec.value}"
    return None


def refusal(spec: CredentialSpec, key_path: Path, db_path: Path) -> str | None:
    """Why this reference names byok's own secret material (so it is never read or sent), or
    None. Paths are compared resolved, symlinks and hard links included."""
    if spec.source is CredentialSource.ENV and spec.value in RESERVED_ENV:
        return f"env:{spec.value} is byok's own setting, not a provider key"
    if spec.source is not CredentialSource.FILE:
        return None
    real = Path(os.path.realpath(spec.value))
    if _through_proc(spec.value):
        return "a file under /proc shows this process's memory and environment (the master key)"
    if real == Path(os.path.realpath(key_path)) or _same_file(real, key_path):
        return f"{spec.value} is byok's master key file"
    db_real = Path(os.path.realpath(db_path))
    if belongs_to_db(real, db_real) or _same_file(real, db_real):
        return f"{spec.value} is byok's database or one of the files kept beside it"
    return None


def _through_proc(ref: str) -> bool:
    """Whether the path passes through /proc at any step: `/dev/fd/3/../../self/environ` does,
    though its realpath need not end there (that depends on what fd 3 is at the time)."""
    parts = Path(ref).parts
    for n in range(1, len(parts) + 1):
        real = Path(os.path.realpath(Path(*parts[:n])))
        if real == PROC or PROC in real.parents:
            return True
    return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing or unreadable: not the same existing file
        return False


def _aad(tenant_id: str, integration_id: str) -> bytes:
    return f"byok/v{SEALED_VERSION}/{tenant_id}/{integration_id}".encode()


class Vault:
    """Holds the master key (loaded lazily) and seals and opens secrets with it."""

    def __init__(
        self,
        *,
        key_path: Path | None = None,
        master_key: bytes | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._key_path = key_path or default_key_path(self._environ)
        self._key = master_key
        self._lock = threading.Lock()
        if master_key is not None and len(master_key) != 32:
            raise CredentialError("the master key must be 32 bytes")

    @property
    def key_path(self) -> Path:
        return self._key_path

    def _master_key(self, *, may_create: Callable[[], bool] | None) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._load_key(may_create=may_create)
            return self._key

    def _load_key(self, *, may_create: Callable[[], bool] | None) -> bytes:
        encoded = self._environ.get(MASTER_KEY_ENV)
        if encoded:
            return _decode_key(encoded.strip(), f"${MASTER_KEY_ENV}")
        path = self._key_path
        try:
            return _read_key_file(path)
        except FileNotFoundError:
            # A new key only on first use: once a secret is sealed, a new key would leave every
            # sealed key unopenable (and hide that the file was lost) instead of saying so.
            if may_create is None or not may_create():
                raise CredentialError(
                    f"no master key: the key file {path} is missing, and the keys sealed in the "
                    "database cannot be opened without it. Restore the file from a backup, or "
                    f"set ${MASTER_KEY_ENV} to the key, or enter the keys again "
                    "(byok edit REF --credential-prompt)"
                ) from None
        return _create_key_file(path)

    def holds_master_key(self, text: str) -> bool:
        """Whether `text` contains the master key as stored (its base64): a copy of the key file
        or of the environment is never sent as a credential. False when there is no key."""
        try:
            key = self._master_key(may_create=None)
        except CredentialError:
            return False
        return base64.b64encode(key).decode() in text

    def seal(
        self,
        secret: str,
        tenant_id: str,
        integration_id: str,
        *,
        may_create_key: Callable[[], bool] = lambda: True,
    ) -> dict[str, Any]:
        """Encrypt `secret`. Without a master key, one is created (a key file, mode 0600) only
        when `may_create_key()` says this is the first use, so no secret is sealed under another.
        """
        key = self._master_key(may_create=may_create_key)
        nonce = os.urandom(12)
        # cryptography costs ~20 ms to import: paid by the first seal/open, not by every start
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        ct = AESGCM(key).encrypt(nonce, secret.encode(), _aad(tenant_id, integration_id))
        return {
            "v": SEALED_VERSION,
            "kid": _fingerprint(key),
            "nonce": base64.b64encode(nonce).decode(),
            "ct": base64.b64encode(ct).decode(),
        }

    def open(self, sealed: Mapping[str, Any], tenant_id: str, integration_id: str) -> str:
        if sealed.get("v") != SEALED_VERSION:
            raise CredentialError(
                f"the stored credential of {integration_id} has an unknown format "
                f"(version {sealed.get('v')!r})"
            )
        key = self._master_key(may_create=None)
        if sealed.get("kid") not in (None, _fingerprint(key)):
            raise CredentialError(
                f"the stored credential of {integration_id} was encrypted under another "
                "master key; "
                f"set the right ${MASTER_KEY_ENV} or key file, or enter the credential again"
            )
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            nonce = base64.b64decode(sealed["nonce"], validate=True)
            ct = base64.b64decode(sealed["ct"], validate=True)
            return AESGCM(key).decrypt(nonce, ct, _aad(tenant_id, integration_id)).decode()
        except (InvalidTag, KeyError, ValueError, binascii.Error, TypeError):
            raise CredentialError(
                f"the stored credential of {integration_id} cannot be decrypted "
                "(wrong master key, or the record was altered)"
            ) from None


def _fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"byok-kid" + key).hexdigest()[:12]


def _decode_key(encoded: str, where: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialError(f"the master key in {where} is not valid base64") from None
    if len(key) != 32:
        raise CredentialError(f"the master key in {where} must decode to 32 bytes, not {len(key)}")
    return key


def _read_key_file(path: Path) -> bytes:
    """The key in the key file; FileNotFoundError when there is none. A file that others can
    read is refused: the key must be as private as the secrets it opens."""
    try:
        raw = read_small(path, KEY_FILE_LIMIT, private=True)
    except NotPrivate as exc:
        raise CredentialError(
            f"the master key file {path} can be read by other users (mode {exc.mode:04o}): "
            f"run `chmod 600 {path}`, and if anyone else could read it, rotate the keys"
        ) from None
    except SmallFileError as exc:
        raise CredentialError(f"cannot read the master key file {path}: {exc}") from None
    try:
        return _decode_key(raw.decode("ascii").strip(), str(path))
    except UnicodeDecodeError:
        raise CredentialError(f"the master key in {path} is not valid base64") from None


def _create_key_file(path: Path) -> bytes:
    ensure_private_dir(path.parent)
    key = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return _read_key_file(path)
    except OSError as exc:
        raise CredentialError(f"cannot create the master key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


def stored_form(
    spec: CredentialSpec,
    vault: Vault,
    tenant_id: str,
    integration_id: str,
    *,
    may_create_key: Callable[[], bool],
) -> dict[str, Any]:
    """What goes into the database for a credential: never the plaintext."""
    form: dict[str, Any] = {"source": spec.source.value, "hint": hint_for(spec)}
    if spec.source is CredentialSource.ENCRYPTED:
        form["sealed"] = vault.seal(
            spec.value, tenant_id, integration_id, may_create_key=may_create_key
        )
    elif spec.source in (CredentialSource.ENV, CredentialSource.FILE):
        form["ref"] = spec.value
    return form


def resolve(
    form: Mapping[str, Any] | None,
    vault: Vault,
    tenant_id: str,
    integration_id: str,
    environ: Mapping[str, str] | None = None,
    *,
    db_path: Path,
) -> str | None:
    """The secret to send now, or None for a keyless integration. Raises CredentialError.

    A reference to byok's own secret material is refused here too, so one already stored (by
    hand, or by an older byok) is never read, let alone sent.
    """
    env = os.environ if environ is None else environ
    source = (form or {}).get("source", CredentialSource.NONE.value)
    if source == CredentialSource.NONE.value:
        return None
    if source == CredentialSource.ENCRYPTED.value:
        value = vault.open(form["sealed"], tenant_id, integration_id)  # type: ignore[index]
        return _sendable(value, f"the stored credential of {integration_id}")
    if source not in (CredentialSource.ENV.value, CredentialSource.FILE.value):
        raise CredentialError(
            f"the stored credential of {integration_id} has an unknown source {source!r}"
        )
    ref = (form or {}).get("ref")
    if not isinstance(ref, str) or not ref:
        raise CredentialError(f"the stored credential of {integration_id} names no {source}")
    spec = CredentialSpec(CredentialSource(source), ref)
    why = refusal(spec, vault.key_path, db_path)
    if why is not None:
        raise CredentialError(f"the credential of {integration_id} is refused: {why}")
    value = _env_value(ref, env) if source == CredentialSource.ENV.value else _file_value(ref)
    if vault.holds_master_key(value):
        raise CredentialError(
            f"the credential of {integration_id} is refused: {hint_for(spec)} holds byok's "
            "master key, which is never sent"
        )
    return _sendable(value, f"the credential {hint_for(spec)} of {integration_id}")


def _sendable(value: str, what: str) -> str:
    """`value`, unless it cannot go into a header (stored by hand, or read from env or file):
    then a CredentialError, before any request, instead of an exception inside the probe."""
    if not v.header_safe(value):
        raise CredentialError(f"{what} {v.NOT_A_HEADER}")
    return value


def file_refs(forms: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """The paths of the `file:` credentials among these stored forms (to read them at once)."""
    return [
        form["ref"]
        for form in forms
        if form
        and form.get("source") == CredentialSource.FILE.value
        and isinstance(form.get("ref"), str)
    ]


def _env_value(name: str, env: Mapping[str, str]) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise CredentialError(f"the environment variable {name} is not set or is empty")
    return value


def _file_value(path: str) -> str:
    try:
        raw = read_small(path, FILE_LIMIT)
    except FileNotFoundError:
        raise CredentialError(f"the credential file {path} does not exist") from None
    except SmallFileError as exc:
        raise CredentialError(f"cannot read the credential file {path}: {exc}") from None
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CredentialError(
            f"cannot read the credential file {path}: not readable as text"
        ) from None
    if not value:
        raise CredentialError(f"the credential file {path} is empty")
    return value
