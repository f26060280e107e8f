"""A call's usage from a provider's response: the whole body, or only its usage object.

The reader is chosen by the usage object's own keys (`SHAPES`, first match), never by the
integration: a LiteLLM proxy or an OpenAI-compatible server answers in another provider's shape.
Where genai-prices ships an extractor for the shape, that extractor reads it (`Shape.provider`,
`Shape.flavor`); byok reads only what the library has no extractor for (Ollama, the google-genai
SDK's snake_case dump, DeepSeek's cache hits, a LiteLLM proxy's Anthropic cache fields).

The result is genai-prices usage keys (`input_tokens` with the cache tokens inside it,
`cache_write_1h_tokens`, `web_searches`, `input_audio_tokens`, ...): the four that byok stores
and limits on, and the rest for pricing only (`UsageInput.extra`). Token counts are whole
numbers; an integral float (the Cohere SDK's 120.0) is one.

genai-prices (and the pydantic under it) is imported on the first extraction, never at import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from core.errors import ValidationError
from core.usage.pricing import BASIC

if TYPE_CHECKING:
    from genai_prices.types import UsageExtractor

# Keys that hold the usage object inside a response body, the body's model and its time (OpenAI's
# Unix seconds, Ollama's and Gemini's ISO-8601).
BODY_KEYS = ("usage", "usageMetadata", "usage_metadata")
MODEL_KEYS = ("model", "modelVersion", "model_version")
TIME_KEYS = ("created", "created_at", "createTime", "create_time")
_MAX_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Shape:
    """One usage shape: the keys that mark it, and the genai-prices extractor that reads it
    (provider None: byok's own reader `name`)."""

    name: str
    marks: frozenset[str]
    provider: str | None = None
    flavor: str = "default"


def _shape(name: str, marks: str, provider: str | None = None, flavor: str = "default") -> Shape:
    return Shape(name, frozenset(marks.split()), provider, flavor)


SHAPES: tuple[Shape, ...] = (
    # OpenAI-compatible chat (OpenAI, Azure, Mistral, Groq, Together, DeepSeek, OpenRouter,
    # LiteLLM); without completion_tokens it is an embeddings answer.
    _shape("openai-chat", "completion_tokens", "openai", "chat"),
    _shape("openai-embeddings", "prompt_tokens", "openai", "embeddings"),
    _shape("anthropic-messages",
           "cache_creation_input_tokens cache_read_input_tokens cache_creation server_tool_use "
           "service_tier", "anthropic"),
    _shape("openai-responses", "input_tokens output_tokens", "openai", "responses"),
    _shape("bedrock-converse", "inputTokens outputTokens", "aws"),
    _shape("gemini", "promptTokenCount candidatesTokenCount totalTokenCount "
           "cachedContentTokenCount thoughtsTokenCount", "google"),
    _shape("gemini-snake", "prompt_token_count candidates_token_count total_token_count "
           "cached_content_token_count thoughts_token_count", "google"),
    _shape("cohere-billed", "billed_units", "cohere"),
    _shape("cohere-tokens", "tokens", "cohere", "tokens"),
    _shape("ollama", "prompt_eval_count eval_count"),
)
_NAMES = ", ".join(s.name for s in SHAPES)


@dataclass(frozen=True, slots=True)
class Located:
    usage: Mapping[str, Any]
    model: str | None  # the body's model, if it names one
    when: object  # the body's time (Unix seconds or ISO-8601 text), if it has one


def locate(body: Mapping[str, Any]) -> Located:
    """The usage object inside a body (or the body itself, e.g. Ollama's), with the body's model
    and time. Cohere v1 keeps its counts in `meta`, in the layout of v2's `usage`."""
    model: str | None = None
    when: object = None
    obj: Mapping[str, Any] = body
    for _ in range(_MAX_DEPTH):
        if model is None:
            model = next((m for k in MODEL_KEYS if isinstance(m := obj.get(k), str)), None)
        if when is None:
            when = next((t for k in TIME_KEYS if (t := obj.get(k)) is not None), None)
        inner: Any = None
        for key in BODY_KEYS:
            if isinstance(inner := obj.get(key), Mapping):
                break
        else:
            inner = obj.get("meta")
            if not isinstance(inner, Mapping) or not ("billed_units" in inner
                                                      or "tokens" in inner):
                break
        obj = inner
    return Located(obj, model, when)


def classify(usage: Mapping[str, Any]) -> Shape:
    if ("prompt_tokens" in usage or "completion_tokens" in usage) and (
        "input_tokens" in usage or "output_tokens" in usage
    ):
        raise ValidationError(
            "has both prompt_tokens/completion_tokens and input_tokens/output_tokens", "usage"
        )
    keys = usage.keys()
    for shape in SHAPES:
        if not shape.marks.isdisjoint(keys):
            return shape
    raise ValidationError(
        "needs the token counts of a provider's response: prompt_tokens/completion_tokens "
        "(OpenAI), input_tokens/output_tokens (Anthropic, OpenAI Responses), "
        f"inputTokens/outputTokens (Bedrock), ... (shapes read: {_NAMES})",
        "usage",
    )


_SNAKE = re.compile(r"_([a-z])")


def _camel(obj: Any) -> Any:
    """The google-genai SDK's snake_case dump as the REST API's camelCase."""
    if isinstance(obj, Mapping):
        return {_SNAKE.sub(lambda m: m.group(1).upper(), k): _camel(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_camel(v) for v in obj]
    return obj


@dataclass(frozen=True, slots=True)
class _Reader:
    """One genai-prices extractor, its mappings turned once into plain tuples and read with dict
    lookups (the library's own `extract` costs several times as much a line). Whatever the plain
    reading cannot settle (a float, a negative or mistyped count, a missing required one, another
    container type) is handed to the library's `extract`, which reads it or names what is wrong:
    the two never disagree."""

    extractor: UsageExtractor
    wrap: str  # the key the extractor's root expects the usage object under
    root: tuple[str, ...]  # the rest of the root, inside the usage object
    mappings: tuple[tuple[tuple[Any, ...], str, bool], ...]  # (path, dest, required)

    def read(self, usage: Mapping[str, Any]) -> dict[str, int]:
        obj: Any = usage
        for step in self.root:
            obj = obj.get(step) if type(obj) is dict else None
        if type(obj) is not dict:
            return self.library(usage)
        values: dict[str, int] = {}
        found = False
        for path, dest, required in self.mappings:
            data: Any = obj
            for step in path:
                if data is None:
                    break
                if type(step) is str and type(data) is dict:
                    data = data.get(step)
                elif type(step) is not str and type(data) is list:
                    data = step.extract(data)  # genai-prices' ArrayMatch: the matching item
                else:  # another container type, or a count where an object belongs
                    return self.library(usage)
            if data is None:
                if required:
                    return self.library(usage)
                continue
            if type(data) is not int or data < 0:
                return self.library(usage)
            found = True
            if data:
                values[dest] = values.get(dest, 0) + data
        return values if found or not self.mappings else self.library(usage)

    def library(self, usage: Mapping[str, Any]) -> dict[str, int]:
        try:
            _, found = self.extractor.extract({self.wrap: usage})
        except ValueError as exc:  # the library's message names the missing or mistyped path
            self._negative(usage)
            raise ValidationError(str(exc).replace("`", ""), "usage") from None
        # vars(): the counts the extractor found, each already checked by genai-prices' Usage
        return {key: _whole(key, value) for key, value in vars(found).items() if value}


    def _negative(self, usage: Mapping[str, Any]) -> None:
        """A negative count read is named by its own path (the library names only its key)."""
        for path, _, _ in self.mappings:
            data: Any = usage
            for step in (*self.root, *path):
                data = data.get(step) if isinstance(data, Mapping) and type(step) is str else None
            if isinstance(data, int | float) and not isinstance(data, bool) and data < 0:
                raise ValidationError("cannot be negative", ".".join(("usage", *self.root, *path)))


@cache
def reader(provider_id: str, flavor: str) -> _Reader:
    from genai_prices.data_snapshot import get_snapshot
    from genai_prices.data_units import unit_data

    provider = get_snapshot().find_provider(None, provider_id, None)
    extractor = next(e for e in provider.extractors or () if e.api_flavor == flavor)
    root = (extractor.root,) if isinstance(extractor.root, str) else tuple(extractor.root)
    mappings = tuple(
        ((m.path,) if isinstance(m.path, str) else tuple(m.path), m.dest, m.required)
        for m in extractor.mappings
        if m.dest in unit_data and m.dest != "requests"  # the library skips unknown ones too
    )
    return _Reader(extractor, str(root[0]), tuple(str(r) for r in root[1:]), mappings)


def _whole(key: str, value: int | float | Decimal) -> int:
    if isinstance(value, int):
        return value
    if value == int(value):
        return int(value)
    raise ValidationError(f"{key} is {value}: a token count must be a whole number", "usage")


def _library(shape: Shape, usage: Mapping[str, Any]) -> dict[str, int]:
    assert shape.provider is not None
    return reader(shape.provider, shape.flavor).read(
        _camel(usage) if shape.name == "gemini-snake" else usage
    )


def _count(obj: object, key: str) -> int:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError("must be a whole number", f"usage.{key}")
    if value < 0:
        raise ValidationError("cannot be negative", f"usage.{key}")
    return _whole(key, value)


_COMPAT = frozenset({"prompt_cache_hit_tokens", "cache_read_input_tokens",
                     "cache_creation_input_tokens", "cache_creation", "server_tool_use"})
_COMPAT_DETAILS = frozenset({"cache_creation_tokens", "cache_creation_token_details"})


def _openai_compatible(usage: Mapping[str, Any], values: dict[str, int]) -> None:
    """What OpenAI-compatible servers add to the chat shape, where genai-prices reads none."""
    details = usage.get("prompt_tokens_details")
    if _COMPAT.isdisjoint(usage) and (
        not isinstance(details, Mapping) or _COMPAT_DETAILS.isdisjoint(details)
    ):
        return
    # DeepSeek documents its cache hits beside prompt_tokens (its misses are the rest); LiteLLM
    # repeats Anthropic's cache reads there too.
    if "cache_read_tokens" not in values:
        hits = _count(usage, "prompt_cache_hit_tokens") or _count(usage, "cache_read_input_tokens")
        if hits:
            values["cache_read_tokens"] = hits
    # A LiteLLM proxy's Claude usage: prompt_tokens holds the cache writes, which it repeats in
    # prompt_tokens_details and in Anthropic's own field; counted once, split by cache lifetime.
    if "cache_write_tokens" not in values:
        writes = _count(details, "cache_creation_tokens") or _count(
            usage, "cache_creation_input_tokens"
        )
        if writes:
            values["cache_write_tokens"] = writes
    split = details.get("cache_creation_token_details") if isinstance(details, Mapping) else None
    split = split or usage.get("cache_creation")
    for ttl in ("5m", "1h"):
        if n := _count(split, f"ephemeral_{ttl}_input_tokens"):
            values[f"cache_write_{ttl}_tokens"] = n
    if n := _count(usage.get("server_tool_use"), "web_search_requests"):
        values["web_searches"] = n


def extract(usage: Mapping[str, Any]) -> dict[str, int]:
    """genai-prices usage keys -> whole numbers (only the non-zero ones, `input_tokens` and
    `output_tokens` always)."""
    shape = classify(usage)
    if shape.provider is None:  # Ollama: the prompt's and the answer's tokens, no cache
        values = {
            "input_tokens": _count(usage, "prompt_eval_count"),
            "output_tokens": _count(usage, "eval_count"),
        }
    else:
        values = _library(shape, usage)
        if shape.name == "openai-chat":
            _openai_compatible(usage, values)
    values.setdefault("input_tokens", 0)
    values.setdefault("output_tokens", 0)
    return values


def fields_of(body: object) -> tuple[dict[str, Any], dict[str, int] | None]:
    """record_usage fields from a response body or a usage object: the four token counts, the
    body's `model` and time (`at`) when it names them; and the other counts, for pricing."""
    if not isinstance(body, Mapping):
        raise ValidationError("must be an object with the token counts", "usage")
    found = locate(body)
    values = extract(found.usage)
    fields: dict[str, Any] = {key: values.pop(key, 0) for key in BASIC}
    if found.model is not None:
        fields["model"] = found.model
    if found.when is not None:
        fields["at"] = found.when
    return fields, values or None
