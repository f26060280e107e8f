"""Input checks for the facade. Every function raises ValidationError naming its field, whatever
it is given (wrong type, out of range, control characters), and never anything else."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from core.enums import HealthState, IntegrationStatus, ProviderType
from core.errors import ValidationError

TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
API_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
MAX_LIMIT = 10**15  # far above any real budget, below float precision trouble in JSON readers
MAX_NAME = 255
MAX_MODEL = 200
MAX_CONFIG_KEYS = 32
MAX_CONFIG_TEXT = 2048
CONFIG_KEYS = ("base_url", "api_version", "region")
NEEDS_BASE_URL = frozenset({ProviderType.AZURE_OPENAI, ProviderType.CUSTOM})
LIMIT_FIELDS = ("budget_limit_cents", "token_limit_month", "rate_limit_rpm")
UPDATABLE = frozenset({"name", "credential", "default_model", "config", *LIMIT_FIELDS})


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def tenant(value: object) -> str:
    if not isinstance(value, str) or not TENANT_RE.fullmatch(value):
        raise ValidationError(
            "must be 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit",
            "tenant_id",
        )
    return value


def integration_id(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValidationError("must be a non-empty string", "integration_id")
    return value


def name(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("must be a string", "name")
    text = value.strip()
    if not text:
        raise ValidationError("cannot be empty", "name")
    if len(text) > MAX_NAME:
        raise ValidationError(f"must be at most {MAX_NAME} characters (it has {len(text)})", "name")
    if not _printable(text):
        raise ValidationError("cannot contain control characters", "name")
    return text


def name_key(text: str) -> str:
    """Names compare case-insensitively with surrounding spaces ignored."""
    return text.strip().casefold()


def provider(value: object, field: str = "provider_type") -> ProviderType:
    try:
        return ProviderType(value)
    except (ValueError, TypeError):
        choices = ", ".join(p.value for p in ProviderType)
        raise ValidationError(f"must be one of: {choices}", field) from None


def status(value: object) -> IntegrationStatus:
    try:
        return IntegrationStatus(value)
    except (ValueError, TypeError):
        choices = ", ".join(s.value for s in IntegrationStatus)
        raise ValidationError(f"must be one of: {choices}", "status") from None


def health_state(value: object) -> HealthState:
    try:
        return HealthState(value)
    except (ValueError, TypeError):
        choices = ", ".join(s.value for s in HealthState)
        raise ValidationError(f"must be one of: {choices}", "health_state") from None


def limit(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be a whole number >= 0 (0 means unlimited)", field)
    if value < 0:
        raise ValidationError("cannot be negative (0 means unlimited)", field)
    if value > MAX_LIMIT:
        raise ValidationError(f"must be at most {MAX_LIMIT}", field)
    return value


def model(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("must be a string or None", "default_model")
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_MODEL or not _printable(text):
        raise ValidationError(f"must be at most {MAX_MODEL} printable characters", "default_model")
    return text


def created_by(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 255 or not _printable(value):
        raise ValidationError("must be a string of at most 255 printable characters", "created_by")
    return value.strip() or None


def base_url(value: object) -> str:
    field = "config.base_url"
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be an http:// or https:// URL", field)
    text = value.strip()
    if len(text) > MAX_CONFIG_TEXT or not _printable(text) or any(c.isspace() for c in text):
        raise ValidationError("must be a URL without spaces or control characters", field)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationError("is not a valid URL", field) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError("must be an http:// or https:// URL with a host", field)
    if parts.username is not None or parts.password is not None:
        raise ValidationError("cannot carry a user or password; use the credential field", field)
    if parts.query or parts.fragment:
        raise ValidationError("cannot have a query or fragment; give the API root only", field)
    if not _valid_host(host):
        raise ValidationError(f"has an invalid host {host!r}", field)
    return text.rstrip("/")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return all(
        re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?", lab) for lab in labels
    )


def config(kind: ProviderType, value: object) -> dict[str, Any]:
    """Known keys are checked strictly; other keys may hold short text, numbers or booleans."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValidationError("must be an object (a mapping of settings)", "config")
    if len(value) > MAX_CONFIG_KEYS:
        raise ValidationError(f"has more than {MAX_CONFIG_KEYS} settings", "config")
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
            errors["config"] = "setting names are lower_snake_case words"
            continue
        if item is None or item == "":
            continue  # an empty setting is the same as no setting
        try:
            if key == "base_url":
                out[key] = base_url(item)
            elif key == "api_version":
                if not isinstance(item, str) or not API_VERSION_RE.fullmatch(item.strip()):
                    raise ValidationError("must look like 2024-10-21", "config.api_version")
                out[key] = item.strip()
            elif key == "region":
                if not isinstance(item, str) or not REGION_RE.fullmatch(item.strip()):
                    raise ValidationError(
                        "must be an AWS region such as us-east-1", "config.region"
                    )
                out[key] = item.strip()
            elif _plain_setting(item):
                out[key] = item
            else:
                raise ValidationError("must be short text, a number or true/false", f"config.{key}")
        except ValidationError as exc:
            errors.update(exc.errors)
    if kind in NEEDS_BASE_URL and "base_url" not in out and "config.base_url" not in errors:
        errors["config.base_url"] = f"is required for {kind.value}"
    if errors:
        raise ValidationError(errors)
    return out


def _plain_setting(item: object) -> bool:
    """Short printable text, a finite number or a boolean: safe to store and to show."""
    if isinstance(item, bool):
        return True
    if isinstance(item, int):
        return abs(item) <= MAX_LIMIT
    if isinstance(item, float):
        return item == item and abs(item) < 1e15
    return isinstance(item, str) and len(item) <= MAX_CONFIG_TEXT and _printable(item)


def page(offset: object, limit_: object) -> tuple[int, int]:
    errors = {}
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        errors["offset"] = "must be a whole number >= 0"
    if isinstance(limit_, bool) or not isinstance(limit_, int) or not 1 <= limit_ <= 1000:
        errors["limit"] = "must be a whole number from 1 to 1000"
    if errors:
        raise ValidationError(errors)
    return offset, limit_  # type: ignore[return-value]


def search(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 500:
        raise ValidationError("must be a string of at most 500 characters", "search")
    return value.strip().casefold() or None
