"""JSON Lines usage import (for `byok usage import` and scripts).

One JSON object a line: a provider's response body as the provider (or its SDK's `model_dump`)
gave it, or a line of byok's own with the response's `usage` object inside:

    {"integration": "prod-openai", "model": "gpt-4o-mini",
     "usage": {"prompt_tokens": 1200, "completion_tokens": 80},
     "call_id": "chatcmpl-123", "timestamp": "2026-11-02T10:00:00Z", "cost_cents": 0.021}

* `integration` is the integration's id, name (names compare case-insensitively) or a unique
  start of its id, as for the CLI's REF; `integration_id` is accepted too. A line without one
  goes to the import's default integration (`byok usage import --integration REF`), so a
  provider's raw response log can be imported as is.
* The tokens are read from the body's `usage` (OpenAI Chat and Responses, Anthropic, Bedrock
  Converse, Cohere v2, Mistral, Groq, DeepSeek, a LiteLLM proxy), `usageMetadata` (Gemini,
  also the google-genai SDK's snake_case `usage_metadata`), `meta` (Cohere v1), or the body's
  own top-level counts (Ollama); `core.usage.shapes` has the table of shapes and which reader
  (genai-prices' extractors, or byok's) reads each. Every count the shape reports prices the call
  (cache writes by lifetime, cache reads, web searches, audio, ...); input, output and cache
  tokens are stored.
* `model` is the line's `model` (Gemini: `modelVersion`); a body without one (Bedrock Converse,
  Cohere) is priced as the integration's `default_model`.
* `cost_cents`, `call_id` and `timestamp` (ISO-8601 with offset, or Unix seconds; also `at`) are
  optional; without them the body's own time is the call's (OpenAI's `created`, `created_at`,
  Ollama's `created_at`, Gemini's `createTime`), else now. Other keys are ignored.

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
class _Resolver:
    """Integration references to (id, default_model) (`IntegrationRepo.resolve`), once per
    distinct reference."""

    def __init__(self, service: UsageService, tenant_id: str, default: str | None) -> None:
        self.service = service
        self.tenant_id = tenant_id
        self.default = default
        self.cache: dict[str, tuple[str, str | None] | None] = {}

    def __call__(self, ref: str) -> tuple[str, str | None] | None:
        if ref not in self.cache:
            try:
                doc = self.service.ctx.repo.resolve(self.tenant_id, ref)
            except ValidationError as exc:  # a start of several ids: the line's field is named so
                raise ValidationError(exc.errors["ref"], "integration") from None
            self.cache[ref] = (doc["id"], doc.get("default_model")) if doc is not None else None
        return self.cache[ref]


def _first_error(exc: ValidationError) -> str:
    return "; ".join(f"{k}: {m}" for k, m in exc.errors.items())


def import_lines(
    service: UsageService, tenant_id: str, source: object, integration: str | None = None
) -> ImportReport:
    """`integration`: the reference of the integration for lines that name none."""
    if integration is not None and (not isinstance(integration, str) or not integration.strip()):
        raise ValidationError("must be an integration's name or id", "integration")
    default = integration.strip() if integration is not None else None
    resolve = _Resolver(service, tenant_id, default)
    if default is not None and resolve(default) is None:
        raise ValidationError(f"{default!r} not found", "integration")
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
    from core.usage.shapes import fields_of  # genai-prices' extractors: loaded by the first line

    if not isinstance(obj, Mapping):
        raise ValidationError("must be a JSON object", "line")
    ref = obj.get("integration", obj.get("integration_id", resolve.default))
    if not isinstance(ref, str) or not ref.strip():
        raise ValidationError(
            "is required: the integration's name or id (or the import's --integration)",
            "integration",
        )
    found = resolve(ref.strip())
    if found is None:
        raise ValidationError(f"{ref.strip()!r} not found", "integration")
    iid, default_model = found
    fields, extra = fields_of(obj)
    model = fields.get("model", obj.get("model"))
    fields["model"] = model if model is not None else default_model
    if fields["model"] is None:
        raise ValidationError("is required (the line has none, nor its integration a "
                              "default_model)", "model")
    for key in ("cost_cents", "call_id", "at", "timestamp"):  # timestamp before at
        if obj.get(key) is not None:
            fields["at" if key == "timestamp" else key] = obj[key]
    try:
        return v.UsageInput(iid, fields, now_us, extra)
    except ValidationError as exc:
        if "at" in exc.errors:
            exc.errors["timestamp"] = exc.errors.pop("at")
        raise
