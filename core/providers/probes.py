"""Per-provider probe specs: which route proves a key works, how it authenticates, how to read
the answer and which reason code each answer means.

Pure functions over data: no I/O here, so every provider's mapping can be tested on its own and
the HTTP machinery in `core.health.service` stays provider-agnostic. Routes were checked against
each provider's public API reference (links in `PROBES` and in the README's Health probes section).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from core.enums import HealthState, ProviderType
from core.integrations.redaction import redact
from core.providers.catalogue import provider_info

AZURE_API_VERSION = "2024-10-21"  # latest GA data-plane version of the Azure OpenAI REST API
BEDROCK_REGION = "us-east-1"
ANTHROPIC_VERSION = "2023-06-01"

OK, SLOW, RATE_LIMITED, PROVIDER_ERROR = "ok", "slow", "rate_limited", "provider_error"
INVALID_KEY, FORBIDDEN, NOT_FOUND, NO_CREDIT = "invalid_key", "forbidden", "not_found", "no_credit"
TIMEOUT, UNREACHABLE, CREDENTIAL_ERROR = "timeout", "unreachable", "credential_error"
# Added by this implementation (documented in the README):
MODEL_UNAVAILABLE = "model_unavailable"  # key works, default_model not offered -> degraded
HTTP_ERROR = "http_error"  # another 4xx (400, 405, 422...) -> failing
BAD_ANSWER = "bad_answer"  # 2xx whose body is not the documented JSON -> degraded

OPENAI_COMPATIBLE = frozenset(
    {
        ProviderType.OPENAI,
        ProviderType.MISTRAL,
        ProviderType.GROQ,
        ProviderType.TOGETHER,
        ProviderType.DEEPSEEK,
        ProviderType.OPENROUTER,
        ProviderType.CUSTOM,
    }
)


@dataclass(frozen=True)
class ProbeSpec:
    method: str
    route: str  # appended to the base URL, which keeps its own path
    doc_url: str
    lists_models: bool = True


PROBES: dict[ProviderType, ProbeSpec] = {
    ProviderType.OPENAI: ProbeSpec(
        "GET", "/models", "https://platform.openai.com/docs/api-reference/models/list"
    ),
    ProviderType.ANTHROPIC: ProbeSpec(
        "GET", "/v1/models?limit=1000", "https://docs.anthropic.com/en/api/models-list"
    ),
    ProviderType.AZURE_OPENAI: ProbeSpec(
        "GET",
        "/openai/models",
        "https://learn.microsoft.com/en-us/rest/api/azureopenai/models/list",
    ),
    ProviderType.GOOGLE: ProbeSpec(
        "GET",
        "/v1beta/models?pageSize=1000",
        "https://ai.google.dev/api/models#method:-models.list",
    ),
    ProviderType.MISTRAL: ProbeSpec("GET", "/models", "https://docs.mistral.ai/api/#tag/models"),
    ProviderType.COHERE: ProbeSpec(
        "POST", "/v1/check-api-key", "https://docs.cohere.com/reference/check-api-key", False
    ),
    ProviderType.GROQ: ProbeSpec(
        "GET", "/models", "https://console.groq.com/docs/api-reference#models-list"
    ),
    ProviderType.TOGETHER: ProbeSpec(
        "GET", "/models", "https://docs.together.ai/reference/models-1"
    ),
    ProviderType.DEEPSEEK: ProbeSpec(
        "GET", "/models", "https://api-docs.deepseek.com/api/list-models"
    ),
    ProviderType.OPENROUTER: ProbeSpec(
        "GET",
        "/key",
        "https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key",
        False,
    ),
    ProviderType.BEDROCK: ProbeSpec(
        "GET",
        "/foundation-models",
        "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html",
    ),
    ProviderType.OLLAMA: ProbeSpec(
        "GET",
        "/api/tags",
        "https://github.com/ollama/ollama/blob/main/docs/api.md#list-local-models",
    ),
    ProviderType.CUSTOM: ProbeSpec(
        "GET", "/models", "https://platform.openai.com/docs/api-reference/models/list"
    ),
}


@dataclass(frozen=True)
class ProbeRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None


@dataclass
class Verdict:
    """What an answer means, before the slow and model checks of `core.health.service`."""

    state: HealthState
    reason: str
    message: str
    models: list[str] = field(default_factory=list)
    retry_after_s: float | None = None
    provider_info: dict[str, Any] = field(default_factory=dict)


def base_url(kind: ProviderType, config: Mapping[str, Any]) -> str:
    """The API root from config or the catalogue, without a trailing slash."""
    base = config.get("base_url")
    if not base and kind is ProviderType.BEDROCK:
        base = f"https://bedrock.{config.get('region') or BEDROCK_REGION}.amazonaws.com"
    if not base:
        base = provider_info(kind).default_base_url
    if not base:
        raise ValueError(f"{kind.value} needs config.base_url")
    return str(base).rstrip("/")


def _runtime_base(kind: ProviderType, config: Mapping[str, Any]) -> str:
    if kind is ProviderType.BEDROCK and not config.get("base_url"):
        return f"https://bedrock-runtime.{config.get('region') or BEDROCK_REGION}.amazonaws.com"
    return base_url(kind, config)


def auth_headers(kind: ProviderType, secret: str | None) -> dict[str, str]:
    """The provider's own authentication header (the fake server checks exactly this)."""
    headers: dict[str, str] = {"accept": "application/json"}
    if kind is ProviderType.ANTHROPIC:
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if secret:
            headers["x-api-key"] = secret
    elif kind is ProviderType.AZURE_OPENAI:
        if secret:
            headers["api-key"] = secret
    elif kind is ProviderType.GOOGLE:
        if secret:
            headers["x-goog-api-key"] = secret
    elif kind is ProviderType.OLLAMA:
        if secret:  # a reverse proxy in front of Ollama may want one
            headers["authorization"] = f"Bearer {secret}"
    elif secret:
        headers["authorization"] = f"Bearer {secret}"
    return headers


def build_probe(kind: ProviderType, config: Mapping[str, Any], secret: str | None) -> ProbeRequest:
    spec = PROBES[kind]
    url = base_url(kind, config) + spec.route
    if kind is ProviderType.AZURE_OPENAI:
        url += "?api-version=" + quote(str(config.get("api_version") or AZURE_API_VERSION))
    body = {} if spec.method == "POST" else None
    return ProbeRequest(spec.method, url, auth_headers(kind, secret), body)


def build_deep(
    kind: ProviderType, config: Mapping[str, Any], secret: str | None, model: str
) -> ProbeRequest | None:
    """A 1-token completion on `model`, or None where byok has no deep probe for the provider."""
    headers = auth_headers(kind, secret)
    headers["content-type"] = "application/json"
    ping = [{"role": "user", "content": "ping"}]
    if kind in OPENAI_COMPATIBLE:
        url = base_url(kind, config) + "/chat/completions"
        return ProbeRequest(
            "POST", url, headers, {"model": model, "messages": ping, "max_tokens": 1}
        )
    if kind is ProviderType.AZURE_OPENAI:
        version = quote(str(config.get("api_version") or AZURE_API_VERSION))
        url = (
            f"{base_url(kind, config)}/openai/deployments/{quote(model, safe='')}"
            f"/chat/completions?api-version={version}"
        )
        return ProbeRequest("POST", url, headers, {"messages": ping, "max_tokens": 1})
    if kind is ProviderType.ANTHROPIC:
        url = base_url(kind, config) + "/v1/messages"
        return ProbeRequest(
            "POST", url, headers, {"model": model, "messages": ping, "max_tokens": 1}
        )
    if kind is ProviderType.GOOGLE:
        name = model.removeprefix("models/")
        url = f"{base_url(kind, config)}/v1beta/models/{quote(name, safe='')}:generateContent"
        body = {
            "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
            "generationConfig": {"maxOutputTokens": 1},
        }
        return ProbeRequest("POST", url, headers, body)
    if kind is ProviderType.COHERE:
        url = base_url(kind, config) + "/v2/chat"
        return ProbeRequest(
            "POST", url, headers, {"model": model, "messages": ping, "max_tokens": 1}
        )
    if kind is ProviderType.BEDROCK:
        url = f"{_runtime_base(kind, config)}/model/{quote(model, safe='')}/converse"
        body = {
            "messages": [{"role": "user", "content": [{"text": "ping"}]}],
            "inferenceConfig": {"maxTokens": 1},
        }
        return ProbeRequest("POST", url, headers, body)
    if kind is ProviderType.OLLAMA:
        url = base_url(kind, config) + "/api/chat"
        body = {"model": model, "messages": ping, "stream": False, "options": {"num_predict": 1}}
        return ProbeRequest("POST", url, headers, body)
    return None


# -- reading answers ------------------------------------------------------------------------------


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or `retry-after-ms`.

    A value that is not a finite number (`nan`, `inf`, `1e400`) is no answer: it is ignored here,
    at the source, so no result, file or JSON output ever holds a non-finite number.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        seconds = _finite(raw_ms)
        if seconds is not None:
            return max(seconds / 1000.0, 0.0)
    raw = headers.get("retry-after")
    if not raw:
        return None
    seconds = _finite(raw)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (now if now is not None else time.time()), 0.0)


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")


def rate_limits(headers: Mapping[str, str]) -> dict[str, Any]:
    """The provider's rate-limit headers, numbers where they are numbers."""
    out: dict[str, Any] = {}
    for name, value in headers.items():
        key = name.lower()
        if key.startswith(RATE_LIMIT_PREFIXES):
            try:
                out[key] = int(value)
            except ValueError:
                out[key] = value[:100]
    return out


def _model_ids(kind: ProviderType, data: Any) -> list[str] | None:
    """The model ids of a list-models answer, or None when the body is not of that shape."""
    if isinstance(data, list) and kind in OPENAI_COMPATIBLE:
        data = {"data": data}  # Together's /models answers a bare array (its API reference)
    if not isinstance(data, dict):
        return None
    if kind is ProviderType.GOOGLE or kind is ProviderType.OLLAMA:
        items, key = data.get("models", []), "name"
    elif kind is ProviderType.BEDROCK:
        items, key = data.get("modelSummaries", []), "modelId"
    else:
        items, key = data.get("data"), "id"
    if not isinstance(items, list):
        return None
    ids = [str(m.get(key)) for m in items if isinstance(m, dict) and m.get(key)]
    if kind is ProviderType.GOOGLE:
        ids = [m.removeprefix("models/") for m in ids]
    return ids


def _error_text(data: Any, body: bytes) -> str:
    """The provider's own error message when the body has one, else the raw body."""
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or err.get("detail")
            if msg:
                return str(msg)
        elif isinstance(err, str):
            return err
        for key in ("message", "detail"):
            if isinstance(data.get(key), str):
                return data[key]
    return body.decode("utf-8", errors="replace")


def _mentions(data: Any, body: bytes, word: str) -> bool:
    return word.encode() in body or (isinstance(data, str) and word in data)


def read_answer(
    kind: ProviderType,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    secrets: tuple[str, ...] = (),
) -> Verdict:
    """Map one HTTP answer of the plain probe to a state and a reason code."""
    data = _json(body)
    name = provider_info(kind).display_name
    detail = redact(_error_text(data, body), secrets)
    if 200 <= status < 300:
        return _read_success(kind, status, data, body, secrets, name)
    if status == 401:
        return Verdict(HealthState.FAILING, INVALID_KEY, f"{name} rejected the key (401): {detail}")
    if status == 400 and _mentions(data, body, "API_KEY_INVALID"):
        return Verdict(
            HealthState.FAILING, INVALID_KEY, f"{name} says the key is invalid: {detail}"
        )
    if status == 429 and _mentions(data, body, "insufficient_quota"):
        return Verdict(HealthState.FAILING, NO_CREDIT, f"{name}: no quota left: {detail}")
    if status == 429:
        wait = retry_after(headers)
        hint = f"; retry after {wait:g} s" if wait is not None else ""
        return Verdict(
            HealthState.DEGRADED,
            RATE_LIMITED,
            f"{name} rate limited the probe{hint}",
            retry_after_s=wait,
        )
    if status == 402:
        return Verdict(HealthState.FAILING, NO_CREDIT, f"{name}: payment required (402): {detail}")
    if status == 403:
        return Verdict(HealthState.FAILING, FORBIDDEN, f"{name} refused access (403): {detail}")
    if status == 404:
        return Verdict(
            HealthState.FAILING,
            NOT_FOUND,
            f"{name} answered 404: check base_url, deployment or API version: {detail}",
        )
    if status >= 500:  # includes Anthropic's 529 overloaded
        wait = retry_after(headers)
        return Verdict(
            HealthState.DEGRADED,
            PROVIDER_ERROR,
            f"{name} had a server error ({status}): {detail}",
            retry_after_s=wait,
        )
    return Verdict(HealthState.FAILING, HTTP_ERROR, f"{name} answered {status}: {detail}")


def _read_success(
    kind: ProviderType, status: int, data: Any, body: bytes, secrets: tuple[str, ...], name: str
) -> Verdict:
    if data is None:
        return Verdict(
            HealthState.DEGRADED,
            BAD_ANSWER,
            f"{name} answered {status} but not with JSON: {redact(body, secrets, 120)}",
        )
    if kind is ProviderType.COHERE:
        if not isinstance(data, dict) or "valid" not in data:
            return Verdict(HealthState.DEGRADED, BAD_ANSWER, f"{name} answered without 'valid'")
        info = {k: data[k] for k in ("organization_id", "owner_id") if isinstance(data.get(k), str)}
        if data.get("valid") is not True:
            return Verdict(
                HealthState.FAILING,
                INVALID_KEY,
                f"{name} says the key is not valid",
                provider_info=info,
            )
        return Verdict(HealthState.HEALTHY, OK, f"{name} accepted the key", provider_info=info)
    if kind is ProviderType.OPENROUTER:
        key = data.get("data") if isinstance(data, dict) else None
        if not isinstance(key, dict):
            return Verdict(HealthState.DEGRADED, BAD_ANSWER, f"{name} answered without key data")
        info = _openrouter_info(key, secrets)
        left = info.get("limit_remaining")
        if isinstance(left, int | float) and left <= 0:
            return Verdict(
                HealthState.FAILING,
                NO_CREDIT,
                f"{name}: the key's credit limit is used up",
                provider_info=info,
            )
        return Verdict(HealthState.HEALTHY, OK, f"{name} accepted the key", provider_info=info)
    models = _model_ids(kind, data)
    if models is None:
        return Verdict(HealthState.DEGRADED, BAD_ANSWER, f"{name} answered without a model list")
    return Verdict(
        HealthState.HEALTHY, OK, f"{name} accepted the key ({len(models)} models)", models
    )


_OPENROUTER_FIELDS = (
    "label",
    "limit",
    "limit_remaining",
    "limit_reset",
    "usage",
    "usage_daily",
    "usage_weekly",
    "usage_monthly",
    "is_free_tier",
    "expires_at",
)


def _openrouter_info(key: Mapping[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """OpenRouter's own view of the key's spend; the label (a masked key) is scrubbed too."""
    info: dict[str, Any] = {}
    for name in _OPENROUTER_FIELDS:
        value = key.get(name)
        if isinstance(value, bool | int | float) or value is None:
            info[name] = value
        elif isinstance(value, str):
            info[name] = redact(value, secrets, 80)
    return info


def model_offered(kind: ProviderType, model: str, models: list[str]) -> bool | None:
    """Whether `model` is in the probe's list; None when the list cannot tell (no list, Azure)."""
    if not models or not PROBES[kind].lists_models or kind is ProviderType.AZURE_OPENAI:
        return None  # Azure lists base models, while default_model names a deployment
    wanted = model.removeprefix("models/")
    if kind is ProviderType.BEDROCK:
        # Cross-region inference profiles (us.…, eu.…, global.…) name a listed foundation model.
        head, _, rest = wanted.partition(".")
        if rest and head in {"us", "eu", "apac", "global", "us-gov", "ca", "jp", "au"}:
            wanted = rest
    offered = set(models)
    if kind is ProviderType.OLLAMA and ":" not in wanted:
        return wanted in offered or f"{wanted}:latest" in offered
    return wanted in offered


def deep_verdict(
    kind: ProviderType,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    secrets: tuple[str, ...],
) -> Verdict:
    """Map the answer of the 1-token completion."""
    if 200 <= status < 300:
        name = provider_info(kind).display_name
        if _json(body) is None:
            return Verdict(
                HealthState.DEGRADED, BAD_ANSWER, f"{name} completion answered without JSON"
            )
        return Verdict(HealthState.HEALTHY, OK, f"{name} completed a 1-token request")
    verdict = read_answer(kind, status, headers, body, secrets)
    if status == 404:  # on a completion route a 404 usually means the model or deployment
        verdict.message = verdict.message.replace("check base_url", "check the model, base_url")
    return verdict
