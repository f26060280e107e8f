"""Per-provider probe specs: which route proves a key works, how it authenticates, how to read
the answer and which reason code each answer means.

Pure functions over data: no I/O here, so every provider's mapping can be tested on its own and
the HTTP machinery in `core.health.service` stays provider-agnostic. Requests were compared with
what each provider's official SDK sends (captured in tests/core/fixtures/sdk/, replayed by
tests/core/test_sdk_fidelity.py) and answers with the SDKs' error classes and the API references;
docs/providers.md records what was compared, with the SDK versions.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

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
REDIRECTED = "redirected"  # 3xx: not followed (the key would go on to another host) -> degraded
TOO_LARGE = "too_large"  # the answer went past MAX_ANSWER_BYTES (read or decompressed) -> failing
PROBE_ERROR = "probe_error"  # the probe raised inside byok (a bug, memory) -> failing

MAX_ANSWER_BYTES = 2 * 1024 * 1024  # the largest model list seen is ~0.3 MiB (Together's)

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
    route: str  # appended to the API root (`api_root`), which keeps the rest of its path
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
        "/v1/models?pageSize=1000",  # /v1: the API version `google_version` picks
        "https://ai.google.dev/api/models#method:-models.list",
    ),
    ProviderType.MISTRAL: ProbeSpec("GET", "/v1/models", "https://docs.mistral.ai/api/#tag/models"),
    ProviderType.COHERE: ProbeSpec(
        "POST", "/v1/check-api-key", "https://docs.cohere.com/reference/check-api-key", False
    ),
    ProviderType.GROQ: ProbeSpec(
        "GET", "/openai/v1/models", "https://console.groq.com/docs/api-reference#models-list"
    ),
    ProviderType.TOGETHER: ProbeSpec(
        "GET", "/v1/models", "https://docs.together.ai/reference/models-1"
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

# Where the provider's SDK takes the bare root and puts a version path in front of every route,
# `base_url` may be given either way: a version path it ends with is dropped, so both forms send
# the same request. (OpenAI, DeepSeek and OpenRouter take the root with its path, as they list
# it; a custom server's path is its own.)
VERSION_PATHS: dict[ProviderType, tuple[str, ...]] = {
    ProviderType.ANTHROPIC: ("/v1",),
    ProviderType.AZURE_OPENAI: ("/openai",),
    ProviderType.GOOGLE: ("/v1", "/v1beta", "/v1alpha"),
    ProviderType.MISTRAL: ("/v1",),
    ProviderType.COHERE: ("/v1", "/v2"),
    ProviderType.GROQ: ("/openai/v1",),
    ProviderType.TOGETHER: ("/v1",),
    ProviderType.OLLAMA: ("/api",),
}
GOOGLE_VERSION = "/v1"  # google-genai 3.x's default; a base_url ending in /v1beta keeps v1beta


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
    aliases: dict[str, str] = field(default_factory=dict)  # model name -> id the provider resolved


def base_url(kind: ProviderType, config: Mapping[str, Any]) -> str:
    """The configured or default base URL, without a trailing slash."""
    base = config.get("base_url")
    if not base and kind is ProviderType.BEDROCK:
        base = f"https://bedrock.{config.get('region') or BEDROCK_REGION}.amazonaws.com"
    if not base:
        base = provider_info(kind).default_base_url
    if not base:
        raise ValueError(f"{kind.value} needs config.base_url")
    return str(base).rstrip("/")


def _split_version(kind: ProviderType, base: str) -> tuple[str, str | None]:
    for path in VERSION_PATHS.get(kind, ()):
        if base.endswith(path):
            return base[: -len(path)], path
    return base, None


def api_root(kind: ProviderType, config: Mapping[str, Any]) -> str:
    """The API root as the provider's SDK takes it: `base_url` without its version path."""
    return _split_version(kind, base_url(kind, config))[0]


def google_version(config: Mapping[str, Any]) -> str:
    """The Gemini API version path: the one base_url names, else the SDK's default."""
    return _split_version(ProviderType.GOOGLE, base_url(ProviderType.GOOGLE, config))[1] or (
        GOOGLE_VERSION
    )


def _runtime_base(kind: ProviderType, config: Mapping[str, Any]) -> str:
    """Bedrock's Converse endpoint: boto3's `bedrock-runtime` client, beside the `bedrock` one.

    A configured AWS endpoint (`bedrock.{region}.amazonaws.com`, `bedrock-fips...`) maps to its
    runtime twin; any other host (a proxy, a test server) serves both.
    """
    if kind is not ProviderType.BEDROCK or not config.get("base_url"):
        region = config.get("region") or BEDROCK_REGION
        return f"https://bedrock-runtime.{region}.amazonaws.com"
    base = base_url(kind, config)
    parts = urlsplit(base)
    host = parts.hostname or ""
    labels = host.split(".")
    if labels[0] in ("bedrock", "bedrock-fips") and ".amazonaws.com" in host:
        labels[0] = labels[0].replace("bedrock", "bedrock-runtime", 1)
        netloc = ".".join(labels) + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return base


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
    route = spec.route
    if kind is ProviderType.GOOGLE:
        route = google_version(config) + route.removeprefix(GOOGLE_VERSION)
    url = api_root(kind, config) + route
    if kind is ProviderType.AZURE_OPENAI:
        url += "?api-version=" + quote(str(config.get("api_version") or AZURE_API_VERSION))
    # Cohere's POST /v1/check-api-key takes no body: its SDK sends none, nor a content-type.
    return ProbeRequest(spec.method, url, auth_headers(kind, secret))


def build_model_lookup(
    kind: ProviderType,
    config: Mapping[str, Any],
    secret: str | None,
    model: str | None,
    verdict: Verdict,
) -> ProbeRequest | None:
    """Anthropic's GET /v1/models/{model_id}, which resolves an alias (`claude-sonnet-4-5`), when
    a healthy list (of dated ids) does not hold `model`; None otherwise and for other providers."""
    if kind is not ProviderType.ANTHROPIC or not model or verdict.state is not HealthState.HEALTHY:
        return None
    if model_offered(kind, model, verdict.models) is not False:
        return None
    url = f"{api_root(kind, config)}/v1/models/{quote(model, safe='')}"
    return ProbeRequest("GET", url, auth_headers(kind, secret))


def read_model_lookup(verdict: Verdict, model: str, status: int, body: bytes) -> None:
    """Record on `verdict` the id the lookup resolved `model` to (a 200 with an `id`); a 404 or
    any other answer leaves the list's word standing."""
    data = _json(body) if status == 200 else None
    model_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(model_id, str) and model_id:
        verdict.aliases[model] = model_id
        verdict.provider_info["default_model_id"] = model_id


def build_deep(
    kind: ProviderType, config: Mapping[str, Any], secret: str | None, model: str
) -> ProbeRequest | None:
    """A 1-token completion on `model`, or None where byok has no deep probe for the provider."""
    headers = auth_headers(kind, secret)
    headers["content-type"] = "application/json"
    root = api_root(kind, config)
    chat = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
    if kind in OPENAI_COMPATIBLE:
        url = f"{root}{VERSION_PATHS.get(kind, ('',))[0]}/chat/completions"
        return ProbeRequest("POST", url, headers, chat)
    if kind is ProviderType.AZURE_OPENAI:  # the deployment names the model (the SDK sends both)
        version = quote(str(config.get("api_version") or AZURE_API_VERSION))
        url = (
            f"{root}/openai/deployments/{quote(model, safe='')}"
            f"/chat/completions?api-version={version}"
        )
        return ProbeRequest("POST", url, headers, chat)
    if kind is ProviderType.ANTHROPIC:
        return ProbeRequest("POST", root + "/v1/messages", headers, chat)
    ping = [{"text": "ping"}]
    if kind is ProviderType.GOOGLE:
        name = quote(model.removeprefix("models/"), safe="")
        url = f"{root}{google_version(config)}/models/{name}:generateContent"
        contents = [{"role": "user", "parts": ping}]
        return ProbeRequest(
            "POST", url, headers, {"contents": contents, "generationConfig": {"maxOutputTokens": 1}}
        )
    if kind is ProviderType.COHERE:
        return ProbeRequest("POST", root + "/v2/chat", headers, chat)
    if kind is ProviderType.BEDROCK:
        url = f"{_runtime_base(kind, config)}/model/{quote(model, safe='')}/converse"
        messages = [{"role": "user", "content": ping}]
        return ProbeRequest(
            "POST", url, headers, {"messages": messages, "inferenceConfig": {"maxTokens": 1}}
        )
    if kind is ProviderType.OLLAMA:
        body = {
            "model": model,
            "messages": chat["messages"],
            "stream": False,
            "options": {"num_predict": 1},
        }
        return ProbeRequest("POST", root + "/api/chat", headers, body)
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
        for key in ("message", "Message", "detail"):  # AWS answers {"Message": ...}
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
    if 200 <= status < 300:
        return _read_success(kind, status, data, body, secrets, name)
    if 300 <= status < 400:
        # Not followed: httpx would carry x-api-key, api-key or x-goog-api-key on to whatever
        # host Location names (it drops only Authorization, which turns a Bearer probe into a
        # false invalid_key). The key is not proven bad, so degraded, and the message says where.
        where = redact(headers.get("location") or "no Location", secrets, 120)
        return Verdict(
            HealthState.DEGRADED,
            REDIRECTED,
            f"{name} answered {status}, a redirect to {where}: byok does not follow redirects; "
            "set base_url to the new address",
        )
    # Only an error's text is shown: a success's body (a model list) is not redacted whole.
    detail = redact(_error_text(data, body), secrets)
    special = _provider_rule(kind, status, data, body, headers)
    if special is not None:
        state, reason, what = special
        wait = retry_after(headers) if state is HealthState.DEGRADED else None
        return Verdict(state, reason, f"{name} {what}: {detail}", retry_after_s=wait)
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
    if status >= 500 or status == 408:  # 529 overloaded; 408 the SDKs retry, as they do 5xx
        wait = retry_after(headers)
        return Verdict(
            HealthState.DEGRADED,
            PROVIDER_ERROR,
            f"{name} had a server error ({status}): {detail}",
            retry_after_s=wait,
        )
    return Verdict(HealthState.FAILING, HTTP_ERROR, f"{name} answered {status}: {detail}")


# Anthropic's `error.details.error_code`s that mean the money ran out, whatever the status:
# ContractSpendLimitReachedError and EnforcedSpendLimitReachedError are 429s (anthropic 2.15.0,
# types/shared/), not rate limits; retrying does not help until the limit is raised.
_ANTHROPIC_SPEND_CODES = frozenset(
    {
        "contract_spend_limit_reached",
        "enforced_spend_limit_reached",
        "linked_organization_spend_limit_reached",
        "linked_organization_billing_unavailable",
    }
)
# AWS's answers to a bad Bedrock API key or SigV4 token (403, like AccessDeniedException's).
_AWS_BAD_KEY_TYPES = ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken")
_AWS_BAD_KEY_TEXT = (b"security token included in the request is invalid", b"Authentication failed")


def _provider_rule(
    kind: ProviderType, status: int, data: Any, body: bytes, headers: Mapping[str, str]
) -> tuple[HealthState, str, str] | None:
    """What a provider means by an answer that the generic rules would read otherwise."""
    if kind is ProviderType.ANTHROPIC:
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        code = details.get("error_code")
        if error.get("type") == "billing_error" or code in _ANTHROPIC_SPEND_CODES:
            return HealthState.FAILING, NO_CREDIT, f"has no credit or spend left ({status})"
        if status == 400 and b"credit balance is too low" in body:
            return HealthState.FAILING, NO_CREDIT, "says the credit balance is too low (400)"
        if code == "organization_on_hold":
            return HealthState.FAILING, FORBIDDEN, "has put the organization on hold (400)"
    if kind is ProviderType.COHERE and status == 498:  # the SDK's InvalidTokenError
        return HealthState.FAILING, INVALID_KEY, "rejected the key (498 invalid token)"
    if kind is ProviderType.GROQ and status == 498:  # capacity_exceeded: flex tier is full
        return HealthState.DEGRADED, PROVIDER_ERROR, "is at flex-tier capacity (498)"
    if kind is ProviderType.BEDROCK:
        error_type = headers.get("x-amzn-errortype") or ""
        if status == 403 and (
            error_type.startswith(_AWS_BAD_KEY_TYPES) or any(t in body for t in _AWS_BAD_KEY_TEXT)
        ):
            return HealthState.FAILING, INVALID_KEY, "rejected the key (403)"
        if status == 424:  # ModelErrorException: the model failed on the request
            return HealthState.DEGRADED, PROVIDER_ERROR, "had a model error (424)"
    return None


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
        return _read_openrouter_key(key, secrets, name)
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
    "is_management_key",
    "expires_at",
)
_BUDGET_FIELDS = ("scope", "limit_usd", "spend_usd", "remaining_usd", "reset_interval", "resets_at")


def _openrouter_info(key: Mapping[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """OpenRouter's own view of the key's spend; the label (a masked key) is scrubbed too."""
    info: dict[str, Any] = {}
    for name in _OPENROUTER_FIELDS:
        value = key.get(name)
        if isinstance(value, bool | int | float) or value is None:
            info[name] = value
        elif isinstance(value, str):
            info[name] = redact(value, secrets, 80)
    budget = key.get("effective_budget")
    if isinstance(budget, dict):
        info["effective_budget"] = {
            k: budget[k] for k in _BUDGET_FIELDS if isinstance(budget.get(k), int | float | str)
        }
    return info


def _spent(budget: Any) -> bool:
    left = budget.get("remaining_usd") if isinstance(budget, dict) else None
    return isinstance(left, int | float) and not isinstance(left, bool) and left <= 0


def _read_openrouter_key(key: Mapping[str, Any], secrets: tuple[str, ...], name: str) -> Verdict:
    """GET /key, as the openrouter SDK (1.3.84, GetCurrentKeyData) documents its fields.

    `effective_budget` is the budget layer that rejects requests first (guardrail, workspace, or
    the key's own limit); `remaining_usd <= 0` means OpenRouter refuses requests until it resets.
    `limit_remaining` covers only the key's own limit. A management key may not run inference.
    """
    info = _openrouter_info(key, secrets)
    budgets = key.get("budgets") if isinstance(key.get("budgets"), list) else []
    spent = next((b for b in [key.get("effective_budget"), *budgets] if _spent(b)), None)
    left = info.get("limit_remaining")
    why: tuple[str, str] | None = None
    if spent is not None:
        scope = redact(str(spent.get("scope") or "a"), secrets, 40)
        resets = spent.get("resets_at")
        when = f"; it resets at {redact(str(resets), secrets, 40)}" if resets else ""
        why = NO_CREDIT, f"the key's {scope} budget is spent{when}"
    elif isinstance(left, int | float) and not isinstance(left, bool) and left <= 0:
        why = NO_CREDIT, "the key's credit limit is used up"
    elif key.get("is_management_key") is True:
        why = FORBIDDEN, "this is a management key, which OpenRouter does not accept for inference"
    if why is None:
        return Verdict(HealthState.HEALTHY, OK, f"{name} accepted the key", provider_info=info)
    return Verdict(HealthState.FAILING, why[0], f"{name}: {why[1]}", provider_info=info)


def model_offered(
    kind: ProviderType, model: str, models: list[str], aliases: Mapping[str, str] | None = None
) -> bool | None:
    """Whether `model` is in the probe's list or resolved by the provider (`aliases`); None when
    the list cannot tell (no list, Azure)."""
    if aliases and model in aliases:
        return True
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
