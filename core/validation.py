"""Every check of input and options, in one place. Each function raises ValidationError naming
its field, whatever it is given (wrong type, out of range, control characters), and never
anything else. A message never repeats the value it refuses: a secret pasted into the wrong
field must not reach an error message.

Ranges, one per kind of input, so that the same kind of value is accepted the same way wherever
it is given:

* A page of results (`limit`): 1..MAX_PAGE (1000) for `list_integrations` (the contract's range)
  and `get_alerts`; 1..MAX_LOG_READ (10,000) for `get_health_log`, whose log keeps 500 entries
  per integration and is read across many integrations at once (tests pin both ranges).
* Counts (the three limits, tokens, token estimates): whole numbers 0..MAX_LIMIT. Money (cents,
  fractions allowed): 0..MAX_LIMIT cents.
* Text: names 1..MAX_NAME, model names 1..MAX_MODEL, call ids 1..MAX_CALL_ID printable
  characters, surrounding spaces dropped.
* Options (see core.options): durations > 0 seconds, counts >= 1, flags true or false.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

from core.enums import HealthState, IntegrationStatus, ProviderType
from core.errors import ValidationError
from core.timeutil import BUDGET_PERIODS, END_US, FIRST_US, US_PER_S, to_us
from core.usage.pricing import NC_PER_CENT

E = TypeVar("E", bound=StrEnum)

TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
API_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
MAX_LIMIT = 10**15  # far above any real budget, below float precision trouble in JSON readers
MAX_NAME = 255
MAX_MODEL = 200
MAX_CALL_ID = 256
MAX_ID = 200
MAX_SEARCH = 500
MAX_PAGE = 1000
MAX_LOG_READ = 10_000
MAX_BATCH = 100_000
MAX_CONFIG_KEYS = 32
MAX_CONFIG_TEXT = 2048
FUTURE_SKEW_US = 5 * 60 * US_PER_S  # clock skew between machines
LAST_UNIX_S = 253402300800  # 10000-01-01: Unix seconds are 1970..9999
NEEDS_BASE_URL = frozenset({ProviderType.AZURE_OPENAI, ProviderType.CUSTOM})
LIMIT_FIELDS = ("budget_limit_cents", "token_limit_month", "rate_limit_rpm")
# per-integration limit settings beside the limits: (field, default as stored)
LIMIT_SETTINGS = {"budget_period": "month", "alert_thresholds": [80, 100], "limits_source": "max"}
MAX_THRESHOLDS = 10
MAX_THRESHOLD = 1000
UPDATABLE = frozenset(
    {"name", "credential", "default_model", "config", *LIMIT_FIELDS, *LIMIT_SETTINGS}
)
# What the limits count: byok's recorded usage, the provider's reported usage, or the larger.
LIMITS_SOURCES = ("recorded", "reported", "max")
RECORD_FIELDS = frozenset(
    {
        "integration_id",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_cents",
        "call_id",
        "at",
        "cache_read_tokens",
        "cache_write_tokens",
        "usage",
    }
)
_NC = Decimal(NC_PER_CENT)


def known(keys: Iterable[object], allowed: Collection[str], field: str, what: str) -> None:
    """Refuse names not in `allowed` (unknown fields of an update or record, unknown options)."""
    unknown = sorted(str(k) for k in keys if k not in allowed)
    if unknown:
        raise ValidationError(
            f"unknown {what}(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            field,
        )


# -- identifiers and names ----------------------------------------------------------------------


def tenant(value: object) -> str:
    if not isinstance(value, str) or not TENANT_RE.fullmatch(value):
        raise ValidationError(
            "must be 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit",
            "tenant_id",
        )
    return value


def integration_id(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise ValidationError("must be a non-empty string", "integration_id")
    return value


def integration_ids(value: object) -> list[str]:
    """Ids, each checked, repeats dropped; a lone string is refused (iterating it would give its
    letters)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError("must be a list of integration ids", "integration_ids")
    return list(dict.fromkeys(integration_id(i) for i in value))


def items(value: object) -> list[Any]:
    """create_integrations' items: a list (each item is checked as create_integration's fields)."""
    if not isinstance(value, list):
        raise ValidationError("must be a list of integration objects", "items")
    return value


def name(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("must be a string", "name")
    text = value.strip()
    if not text:
        raise ValidationError("cannot be empty", "name")
    if len(text) > MAX_NAME:
        raise ValidationError(f"must be at most {MAX_NAME} characters (it has {len(text)})", "name")
    if not text.isprintable():
        raise ValidationError("cannot contain control characters", "name")
    return text


def name_key(text: str) -> str:
    """Names compare case-insensitively with surrounding spaces ignored."""
    return text.strip().casefold()


def created_by(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME or not value.isprintable():
        raise ValidationError("must be a string of at most 255 printable characters", "created_by")
    return value.strip() or None


def _short_text(value: object, most: int) -> str | None:
    """`value` without surrounding spaces when it is 1..most printable characters, else None."""
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) <= most and text.isprintable():
            return text
    return None


def limits_source(value: object) -> str:
    """Which usage the limits count (see LIMITS_SOURCES); blank or None is the default, max."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "max"
    if isinstance(value, str) and value.strip().lower() in LIMITS_SOURCES:
        return value.strip().lower()
    raise ValidationError(
        "must be recorded (what byok recorded), reported (what the provider reported, after "
        "byok sync) or max (the larger of the two)",
        "limits_source",
    )


def model(value: object) -> str | None:
    """An integration's default model: None, or blank, clears it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("must be a string or None", "default_model")
    if not value.strip():
        return None
    text = _short_text(value, MAX_MODEL)
    if text is None:
        raise ValidationError(f"must be at most {MAX_MODEL} printable characters", "default_model")
    return text


def usage_model(value: object) -> str:
    """The model a recorded call used: required."""
    text = _short_text(value, MAX_MODEL)
    if text is None:
        raise ValidationError(
            f"must be the model name: 1 to {MAX_MODEL} printable characters", "model"
        )
    return text


def call_id(value: object) -> str | None:
    if value is None:
        return None
    text = _short_text(value, MAX_CALL_ID)
    if text is None:
        raise ValidationError(f"must be None or 1 to {MAX_CALL_ID} printable characters", "call_id")
    return text


def search(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_SEARCH:
        raise ValidationError(f"must be a string of at most {MAX_SEARCH} characters", "search")
    return value.strip().casefold() or None


# -- choices ------------------------------------------------------------------------------------


def _choice(kind: type[E], value: object, field: str) -> E:
    try:
        return kind(value)
    except (ValueError, TypeError):
        choices = ", ".join(m.value for m in kind)
        raise ValidationError(f"must be one of: {choices}", field) from None


def provider(value: object, field: str = "provider_type") -> ProviderType:
    return _choice(ProviderType, value, field)


def status(value: object) -> IntegrationStatus:
    return _choice(IntegrationStatus, value, "status")


def health_state(value: object) -> HealthState:
    return _choice(HealthState, value, "health_state")


# -- numbers ------------------------------------------------------------------------------------


def count(value: object, field: str, note: str = "") -> int:
    """A whole number from 0 to MAX_LIMIT (tokens, estimates, limits); bool is refused."""
    if type(value) is int and 0 <= value <= MAX_LIMIT:
        return value  # the common case first: it runs for every event of a batch
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"must be a whole number >= 0{note}", field)
    if value < 0:
        raise ValidationError(f"cannot be negative{note}", field)
    if value > MAX_LIMIT:
        raise ValidationError(f"must be at most {MAX_LIMIT}", field)
    return int(value)  # an int subclass as a plain int


def limit(field: str, value: object) -> int:
    """A budget, token or rate limit; 0 means unlimited."""
    return count(value, field, " (0 means unlimited)")


def setting(doc: Mapping[str, Any], field: str) -> Any:
    """A limit setting of a stored integration document (LIMIT_SETTINGS), its default when the
    document predates it."""
    value = doc.get(field)
    if value is None:
        value = LIMIT_SETTINGS[field]
    return list(value) if isinstance(value, list) else value


def budget_period(value: object) -> str:
    """The period of the budget and token limits: "day", "week" (Monday 00:00 UTC) or
    "month", in UTC."""
    if value not in BUDGET_PERIODS or type(value) is not str:
        raise ValidationError(f"must be one of: {', '.join(BUDGET_PERIODS)}", "budget_period")
    return value


def alert_thresholds(value: object) -> list[int]:
    """Percents of the budget and token limits that raise an alert: whole numbers 1..1000, at
    most MAX_THRESHOLDS, as a list or as text ("50,90,100"); returned sorted, repeats dropped.
    An empty list raises no usage alert."""
    field = "alert_thresholds"
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")] if value.strip() else []
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise ValidationError("must be whole percents separated by commas, e.g. 80,100", field)
        value = [int(p) for p in parts]
    if not isinstance(value, list | tuple):
        raise ValidationError("must be a list of whole percents, e.g. [80, 100]", field)
    if not all(type(p) is int and 1 <= p <= MAX_THRESHOLD for p in value):
        raise ValidationError(f"each threshold must be a whole percent from 1 to {MAX_THRESHOLD}",
                              field)  # fmt: skip
    out = sorted(set(value))
    if len(out) > MAX_THRESHOLDS:
        raise ValidationError(f"at most {MAX_THRESHOLDS} thresholds (it has {len(out)})", field)
    return out


def cents(value: object, field: str = "cost_cents") -> int:
    """A cost in cents (int, float or Decimal), 0..MAX_LIMIT, as exact nano-cents, half up.

    A float is read as the decimal it prints as (0.1 is 0.1, not 0.1000000000000000055...).
    """
    if type(value) is int and 0 <= value <= MAX_LIMIT:
        return value * NC_PER_CENT
    try:
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            number = Decimal(value)
        else:
            raise ValidationError("must be a number of cents >= 0", field)
    except InvalidOperation:
        raise ValidationError("must be a number of cents >= 0", field) from None
    if not number.is_finite():
        raise ValidationError("must be a finite number of cents", field)
    if number < 0:
        raise ValidationError("cannot be negative", field)
    if number > MAX_LIMIT:
        raise ValidationError(f"must be at most {MAX_LIMIT} cents", field)
    return int((number * _NC).to_integral_value(ROUND_HALF_UP))


def estimates(tokens: object, cost_cents: object) -> tuple[int, int]:
    """check_limits' estimates as (tokens, nano-cents); both are named when both are bad."""
    errors: dict[str, str] = {}
    est_tokens = est_nc = 0
    try:
        est_tokens = count(tokens, "estimated_tokens")
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        est_nc = cents(cost_cents, "estimated_cost_cents")
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return est_tokens, est_nc


def _number(value: object) -> float | None:
    """A finite int or float (not bool) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def positive(value: object, field: str) -> float:
    """A finite number > 0 (a timeout, a threshold)."""
    number = _number(value)
    if number is None or number <= 0:
        raise ValidationError("must be a number > 0", field)
    return number


def seconds(value: object, field: str) -> float:
    """A finite number of seconds >= 0."""
    number = _number(value)
    if number is None or number < 0:
        raise ValidationError("must be a number of seconds >= 0", field)
    return number


def at_least_one(value: object, field: str) -> int:
    """A whole number >= 1 (a count of days, events, entries, probes at once)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("must be a whole number >= 1", field)
    return int(value)


def flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("must be true or false", field)
    return value


def page(offset: object, limit_: object) -> tuple[int, int]:
    errors = {}
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        errors["offset"] = "must be a whole number >= 0"
    try:
        read_limit(limit_, MAX_PAGE)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return offset, limit_  # type: ignore[return-value]


def read_limit(value: object, most: int) -> int:
    """How many results to return: 1..`most` (see the ranges above)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ValidationError(f"must be a whole number from 1 to {most}", "limit")
    return value


# -- time ---------------------------------------------------------------------------------------


def time_us(value: object, field: str = "at") -> int:
    """An aware datetime, ISO-8601 text with an offset (or Z), or Unix seconds, as µs."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError("must be timezone-aware (UTC)", field)
        return _dated(to_us(value), field)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                "must be an ISO-8601 time such as 2026-01-31T12:00:00Z", field
            ) from None
        if moment.tzinfo is None:
            raise ValidationError("must carry a UTC offset, e.g. 2026-01-31T12:00:00Z", field)
        return _dated(to_us(moment), field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < LAST_UNIX_S:
            raise ValidationError("must be Unix seconds between 1970 and 9999", field)
        return round(value * US_PER_S) if isinstance(value, float) else value * US_PER_S
    raise ValidationError("must be a datetime, ISO-8601 text or Unix seconds", field)


def _dated(us: int, field: str) -> int:
    if not FIRST_US <= us < END_US:
        raise ValidationError("must be a time between the years 1 and 9999 (UTC)", field)
    return us


# -- credentials --------------------------------------------------------------------------------

_HEADER_TEXT = re.compile(r"[\x20-\x7e]*")
NOT_A_HEADER = (
    "holds a character that cannot be sent in an HTTP header: a key is printable ASCII "
    "(no accented letters or other scripts, no control characters or line breaks)"
)


def header_safe(text: str) -> bool:
    """Whether `text` can be sent in an HTTP header as it is: printable ASCII only. httpx encodes
    header values as ASCII (anything else raised UnicodeEncodeError inside the probe), and a CR
    or LF would end the header and start another."""
    return _HEADER_TEXT.fullmatch(text) is not None


# -- provider settings --------------------------------------------------------------------------


def base_url(value: object) -> str:
    field = "config.base_url"
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be an http:// or https:// URL", field)
    text = value.strip()
    if len(text) > MAX_CONFIG_TEXT or not text.isprintable() or any(c.isspace() for c in text):
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
    return isinstance(item, str) and len(item) <= MAX_CONFIG_TEXT and item.isprintable()


# -- usage records ------------------------------------------------------------------------------


class UsageInput:
    """One usage record, checked (before pricing): from record_usage, a batch or an import line.

    Every field is checked and every bad one named in one ValidationError. Cache tokens are part
    of the input tokens; `at` may be at most FUTURE_SKEW_US ahead of `now_us`.
    """

    __slots__ = ("at_us", "cache_read", "cache_write", "call_id", "cost_nc", "extra", "iid",
                 "inp", "model", "out")

    def __init__(
        self,
        iid: str,
        fields: Mapping[str, Any],
        now_us: int,
        extra: Mapping[str, int] | None = None,
    ) -> None:
        errors: dict[str, str] = {}
        self.iid = iid
        self.extra = extra  # other usage counts, for pricing only (core.usage.shapes)
        self.model: str = None  # type: ignore[assignment]  # required: refused below if missing
        self.call_id: str | None = None
        self.inp = self.out = self.cache_read = self.cache_write = 0
        self.cost_nc: int | None = None
        self.at_us = now_us
        for key, attr, check in _USAGE_CHECKS:
            value = fields.get(key)
            if value is None:  # None keeps the default (no cost given, `at` = now)
                continue
            try:
                setattr(self, attr, check(value, key))
            except ValidationError as exc:
                errors.update(exc.errors)
        for key in ("model", "input_tokens", "output_tokens"):
            if fields.get(key) is None:
                errors[key] = "is required"
        if not errors and self.cache_read + self.cache_write > self.inp:
            errors["cache_read_tokens"] = (
                "cache tokens are part of input_tokens and cannot exceed it"
            )
        if not errors and self.at_us > now_us + FUTURE_SKEW_US:
            errors["at"] = "is more than 5 minutes in the future"
        if not errors and self.at_us < 0:  # the usage log and its rollups count from 1970
            errors["at"] = "is before 1970-01-01T00:00:00Z: usage is recorded from 1970 on"
        if errors:
            raise ValidationError(errors)


_USAGE_CHECKS: tuple[tuple[str, str, Callable[[object, str], Any]], ...] = (
    ("model", "model", lambda x, _: usage_model(x)),
    ("input_tokens", "inp", count),
    ("output_tokens", "out", count),
    ("cache_read_tokens", "cache_read", count),
    ("cache_write_tokens", "cache_write", count),
    ("cost_cents", "cost_nc", cents),
    ("call_id", "call_id", lambda x, _: call_id(x)),
    ("at", "at_us", time_us),
)


def usage_batch(records: object, now_us: int) -> list[UsageInput]:
    """A batch of records (mappings with `integration_id`), each checked; the first 20 errors
    are named `records[i].field`."""
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Sequence):
        raise ValidationError("must be a list of records (mappings)", "records")
    if len(records) > MAX_BATCH:
        raise ValidationError(
            f"has {len(records)} records; send at most {MAX_BATCH} per batch", "records"
        )
    out: list[UsageInput] = []
    errors: dict[str, str] = {}
    for i, item in enumerate(records):
        try:
            if not isinstance(item, Mapping):
                raise ValidationError("must be a mapping of record fields", "record")
            known(item, RECORD_FIELDS, "record", "field")
            iid = integration_id(item.get("integration_id"))
            if item.get("usage") is None:
                out.append(UsageInput(iid, item, now_us))
            else:
                out.append(usage_record(iid, item, now_us))
        except ValidationError as exc:
            for key, message in exc.errors.items():
                errors[f"records[{i}].{key}" if key != "record" else f"records[{i}]"] = message
            if len(errors) >= 20:
                errors["records"] = "stopped after 20 errors"
                break
    if errors:
        raise ValidationError(errors)
    return out


def usage_record(iid: str, item: Mapping[str, Any], now_us: int) -> UsageInput:
    """A record whose tokens are a provider's `usage` object or whole response body (the body's
    model and time are used when the record names none)."""
    from core.usage.shapes import BASIC, fields_of  # its reading loads genai-prices' extractors

    given = [key for key in BASIC if item.get(key) is not None]
    if given:
        raise ValidationError(f"give either usage or {'/'.join(given)}, not both", "usage")
    fields, extra = fields_of(item["usage"])
    fields.update((key, value) for key, value in item.items() if value is not None)
    return UsageInput(iid, fields, now_us, extra)


# -- options (declared in core.options) ---------------------------------------------------------


def clock(value: object, field: str) -> Callable[[], datetime]:
    if not callable(value):
        raise ValidationError("must be a callable returning an aware datetime", field)
    return value  # type: ignore[return-value]


def environ(value: object, field: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError("must be a mapping of environment variables", field)
    return value


def master_key(value: object, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValidationError("must be 32 bytes", field)
    return value
