"""JSON Lines usage import (for `byok usage import` and scripts).

One JSON object a line:

    {"integration": "prod-openai", "model": "gpt-4o-mini",
     "usage": {"prompt_tokens": 1200, "completion_tokens": 80},
     "call_id": "chatcmpl-123", "timestamp": "2026-11-02T10:00:00Z", "cost_cents": 0.021}

* `integration` is the integration's id, name (names compare case-insensitively) or a unique
  start of its id, as for the CLI's REF; `integration_id` is accepted too.
* `usage` in the OpenAI Chat shape (`prompt_tokens`, `completion_tokens`, optional
  `prompt_tokens_details.cached_tokens`), the OpenAI Responses shape (`input_tokens`,
  `output_tokens`, `input_tokens_details.cached_tokens`) or the Anthropic shape (`input_tokens`,
  `output_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens`). Anthropic reports
  cache tokens apart from `input_tokens`; they are input too and are added to it.
* `cost_cents`, `call_id` and `timestamp` (ISO-8601 with offset, or Unix seconds; also `at`) are
  optional. Other keys are ignored, so a provider's raw response log can be imported as is.

Bad lines are reported by number and skipped; the rest is stored in batches of 10,000 (each batch
durable as a whole). Re-running an import after a crash is safe for lines with a call_id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from core import validation as v
from core.errors import ValidationError
from core.models import ImportLineError, ImportReport
from core.usage.pricing import nc_to_cents

if TYPE_CHECKING:
    from core.usage.service import UsageService

CHUNK = 10_000
MAX_LINE = 1 << 20
MAX_LISTED_ERRORS = 1000


def _lines(source: object) -> Iterator[bytes | str]:
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as exc:
            raise ValidationError(f"cannot open {path}: {exc.strerror}", "source") from None
        try:
            yield from _bounded_lines(fh)
        finally:
            fh.close()
    elif hasattr(source, "readline"):
        yield from _bounded_lines(source)  # a text or binary stream (stdin)
    elif isinstance(source, Iterable) and not isinstance(source, bytes | Mapping):
        yield from source  # any iterable of lines
    else:
        raise ValidationError("must be a file path or a text stream", "source")


def _bounded_lines(stream: Any) -> Iterator[bytes | str]:
    """The stream's lines, none held longer than MAX_LINE + 1: a longer one is yielded cut (its
    caller reports it too long) and the rest of it skipped piece by piece, so a file without a
    newline (`/dev/zero`, a binary dump) costs one line's worth of memory, not its size."""
    while line := stream.readline(MAX_LINE + 1):
        if len(line) > MAX_LINE and line[-1:] not in ("\n", b"\n"):
            while (rest := stream.readline(1 << 16)) and rest[-1:] not in ("\n", b"\n"):
                pass
        yield line


def _count(usage: Mapping[str, Any], key: str, *, required: bool = False) -> int:
    value = usage.get(key)
    if value is None:
        if required:
            raise ValidationError("is required", f"usage.{key}")
        return 0
    return v.count(value, f"usage.{key}")


def _cached(usage: Mapping[str, Any], details_key: str) -> int:
    details = usage.get(details_key)
    if details is None:
        return 0
    if not isinstance(details, Mapping):
        raise ValidationError("must be an object", f"usage.{details_key}")
    return _count(details, "cached_tokens")


def tokens_of(usage: object) -> dict[str, int]:
    """input/output/cache tokens from an OpenAI or Anthropic `usage` object."""
    if not isinstance(usage, Mapping):
        raise ValidationError("must be an object with the token counts", "usage")
    openai_chat = "prompt_tokens" in usage or "completion_tokens" in usage
    other = "input_tokens" in usage or "output_tokens" in usage
    if openai_chat and other:
        raise ValidationError(
            "has both prompt_tokens/completion_tokens and input_tokens/output_tokens", "usage"
        )
    if openai_chat:
        inp = _count(usage, "prompt_tokens", required=True)
        return {
            "input_tokens": inp,
            "output_tokens": _count(usage, "completion_tokens"),
            "cache_read_tokens": _cached(usage, "prompt_tokens_details"),
        }
    if not other:
        raise ValidationError(
            "needs prompt_tokens/completion_tokens (OpenAI) or input_tokens/output_tokens "
            "(Anthropic)",
            "usage",
        )
    base = _count(usage, "input_tokens", required=True)
    out = _count(usage, "output_tokens", required=True)
    if "cache_creation_input_tokens" in usage or "cache_read_input_tokens" in usage:
        write = _count(usage, "cache_creation_input_tokens")
        read = _count(usage, "cache_read_input_tokens")
        return {
            "input_tokens": base + write + read,
            "output_tokens": out,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
        }
    # OpenAI Responses: input_tokens already includes the cached part.
    return {
        "input_tokens": base,
        "output_tokens": out,
        "cache_read_tokens": _cached(usage, "input_tokens_details"),
    }


class _Resolver:
    """Integration references to ids (`IntegrationRepo.resolve`), once per distinct reference."""

    def __init__(self, service: UsageService, tenant_id: str) -> None:
        self.service = service
        self.tenant_id = tenant_id
        self.cache: dict[str, str | None] = {}

    def __call__(self, ref: str) -> str | None:
        if ref not in self.cache:
            try:
                doc = self.service.ctx.repo.resolve(self.tenant_id, ref)
            except ValidationError as exc:  # a start of several ids: the line's field is named so
                raise ValidationError(exc.errors["ref"], "integration") from None
            self.cache[ref] = doc["id"] if doc is not None else None
        return self.cache[ref]


def _first_error(exc: ValidationError) -> str:
    return "; ".join(f"{k}: {m}" for k, m in exc.errors.items())


def import_lines(service: UsageService, tenant_id: str, source: object) -> ImportReport:
    resolve = _Resolver(service, tenant_id)
    now_us = service._now_us()
    errors: list[ImportLineError] = []
    error_count = 0
    lines = imported = duplicates = unpriced = 0
    cost_nc = 0
    chunk: list[v.UsageInput] = []
    chunk_lines: list[int] = []

    def fail(number: int, message: str) -> None:
        nonlocal error_count
        error_count += 1
        if len(errors) < MAX_LISTED_ERRORS:
            errors.append(ImportLineError(line=number, message=message))

    def flush() -> None:
        nonlocal imported, duplicates, unpriced, cost_nc
        if not chunk:
            return
        result, chunk_cost = service.record_checked(tenant_id, chunk)
        imported += result.accepted
        duplicates += result.duplicates
        unpriced += result.unpriced
        cost_nc += chunk_cost
        for i in result.not_found_indexes:  # deleted while we were importing
            fail(chunk_lines[i], "integration: not found (deleted during the import)")
        chunk.clear()
        chunk_lines.clear()

    for number, raw in enumerate(_lines(source), start=1):
        if isinstance(raw, str):
            text = raw.strip()
            if not text:
                continue
            data: bytes | str = text
        else:
            data = raw.strip()
            if not data:
                continue
        lines += 1
        if len(data) > MAX_LINE:
            fail(number, f"line is longer than {MAX_LINE} bytes")
            continue
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            fail(number, f"not valid JSON ({exc})")
            continue
        try:
            rec = _record(resolve, obj, now_us)
        except ValidationError as exc:
            fail(number, _first_error(exc))
            continue
        chunk.append(rec)
        chunk_lines.append(number)
        if len(chunk) >= CHUNK:
            flush()
    flush()
    errors.sort(key=lambda e: e.line)
    return ImportReport(
        lines=lines,
        imported=imported,
        duplicates=duplicates,
        unpriced=unpriced,
        cost_cents=nc_to_cents(cost_nc),
        errors=errors,
        error_count=error_count,
    )


def _record(resolve: _Resolver, obj: object, now_us: int) -> v.UsageInput:
    if not isinstance(obj, Mapping):
        raise ValidationError("must be a JSON object", "line")
    ref = obj.get("integration", obj.get("integration_id"))
    if not isinstance(ref, str) or not ref.strip():
        raise ValidationError("is required: the integration's name or id", "integration")
    iid = resolve(ref.strip())
    if iid is None:
        raise ValidationError(f"{ref.strip()!r} not found", "integration")
    fields: dict[str, Any] = tokens_of(obj.get("usage"))
    fields["model"] = obj.get("model")
    if "model" not in obj:
        raise ValidationError("is required", "model")
    for key in ("cost_cents", "call_id"):
        if obj.get(key) is not None:
            fields[key] = obj[key]
    when = obj.get("timestamp", obj.get("at"))
    if when is not None:
        fields["at"] = when
    try:
        return v.UsageInput(iid, fields, now_us)
    except ValidationError as exc:
        if "at" in exc.errors:
            exc.errors["timestamp"] = exc.errors.pop("at")
        raise
