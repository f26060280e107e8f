"""byok's probes against an oracle no one here wrote: the providers' official SDKs.

Requests: tests/support/sdk_capture.py made each SDK perform its list-models (or key-check), its
1-token completion and Anthropic's one-model lookup against a capture server on 127.0.0.1, and
recorded them with the SDK's version in tests/core/fixtures/sdk/. Here byok performs the same
calls, through the facade over real sockets, with base_url in the SDK's root form and in the
form with the version path; both must send what the SDK sent (method, path, query, auth and
version headers, the body's fields). The default URLs (recorded without network) are compared
through `build_probe`. Every difference from an SDK is listed in DEVIATIONS, with why byok
differs; docs/providers.md has the same table.
"""

from __future__ import annotations

import json
import re
import secrets as pysecrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from support.capture import Captured, CaptureServer, default_answer

from core import IntegrationsFacade
from core.enums import ProviderType
from core.providers import probes as p
from core.providers.catalogue import provider_info

FIXTURES = Path(__file__).parent / "fixtures" / "sdk"
KEY = "KEY"  # what the fixtures write for the dummy key the SDKs were given

# The version path each SDK puts before its routes, which byok also accepts at the end of
# base_url (written from the SDKs' own sources, not from byok's table).
VERSION_PATH = {
    "anthropic": "/v1",
    "azure_openai": "/openai",
    "mistral": "/v1",
    "cohere": "/v1",
    "groq": "/openai/v1",
    "together": "/v1",
    "ollama": "/api",
}
# Headers byok may send or not where an SDK differs, and why that does not change the request.
HARMLESS_HEADERS = {
    "accept": "byok asks every provider for JSON; */* (cohere, google-genai) accepts it too",
    "content-type": "on a GET without a body (google-genai, ollama) it describes nothing",
}
# Body fields an SDK sends with their default value, which byok leaves to the default.
SDK_DEFAULT_FIELDS = {"stream": False, "tools": []}
# (provider, sdk version prefix, what) -> why byok does not follow that SDK.
DEVIATIONS: dict[tuple[str, str, str], str] = {
    ("anthropic", "2.", "auth"): (
        "anthropic 2.x sends the key as 'Authorization: Bearer' with anthropic-version "
        "2026-10-21; byok keeps x-api-key with 2023-06-01, the pair the API reference documents "
        "and anthropic 1.x sends: an anthropic-version pins the response shapes byok reads, "
        "and 2026-10-21's are not yet checked against them"
    ),
    ("together", "1.", "default"): (
        "together 1.x (legacy) defaults to api.together.xyz; 2.x and 3.x use api.together.ai"
    ),
    ("together", "3.", "default"): (
        "together 3.x sends completions to api-inference.together.ai unless base_url is set; "
        "byok keeps one host, api.together.ai, which 3.x itself uses once base_url is given"
    ),
    ("google", "2.", "default"): (
        "google-genai 2.x defaulted to v1beta; 3.x to v1, which byok follows (a base_url ending "
        "in /v1beta keeps v1beta)"
    ),
}


def _deviation(provider: str, version: str, what: str) -> str | None:
    for (prov, prefix, kind), why in DEVIATIONS.items():
        if prov == provider and version.startswith(prefix) and kind == what:
            return why
    return None


def _captures() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text())
        out += [(doc["provider"], c) for c in doc["captures"]]
    return out


CAPTURES = _captures()
DEEP_MODELS = sorted({c["model"] for _, c in CAPTURES if c["model"]})


def _groups() -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """The captures of one provider and SDK version, by the base URL the SDK was given."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for provider, c in CAPTURES:
        groups.setdefault((provider, c["sdk"], c["version"]), []).append(c)
    return [(prov, sdk, ver, cs) for (prov, sdk, ver), cs in sorted(groups.items())]


def _forms(provider: str, capture: dict[str, Any]) -> list[str]:
    """The base_url paths (after the server's address) that must send the SDK's request."""
    given = capture["given_base"]
    if provider == "google":  # the version is the API's, not the root's: from the path
        version = "/" + capture["request"]["path"].split("/")[1]
        return [given, given + version] if version == "/v1" else [given + version]
    path = VERSION_PATH.get(provider)
    if path is None:
        return [given]
    if given.endswith(path):
        return [given, given.removesuffix(path)]
    forms = [given, given + path]
    if provider == "cohere":
        forms.append(given + "/v2")  # the v2 client's root form
    return forms


def test_every_provider_has_captures() -> None:
    providers = {prov for prov, _ in CAPTURES}
    assert providers == {t.value for t in ProviderType} - {"custom"}
    for provider, c in CAPTURES:
        assert re.fullmatch(r"\d+\.\d+(\.\d+)?", c["version"]), (provider, c)
        assert c["request"]["method"] in ("GET", "POST") and c["request"]["path"].startswith("/")


# -- requests over real sockets ---------------------------------------------------------------


def _answer(provider: str) -> Any:
    """The capture server's answers: documented success bodies listing the models the SDK calls
    named, so byok's probe is healthy and goes on to the completion. Anthropic's list holds only
    the dated id, as Anthropic's does, so the alias goes to the one-model lookup."""

    def answer(path: str) -> tuple[int, Any]:
        if provider == "anthropic" and path.endswith("/v1/models"):
            return 200, {"data": [{"id": "claude-sonnet-4-5-20250929", "type": "model"}]}
        if provider == "together" and path.endswith("/v1/models"):
            return 200, [{"id": m} for m in DEEP_MODELS]  # a bare array (its API reference)
        if provider == "google" and path.endswith("/models"):
            return 200, {"models": [{"name": f"models/{m}"} for m in DEEP_MODELS]}
        if provider == "bedrock" and path.endswith("/foundation-models"):
            return 200, {"modelSummaries": [{"modelId": m} for m in DEEP_MODELS]}
        if provider == "ollama" and path.endswith("/api/tags"):
            return 200, {"models": [{"name": f"{m}:latest"} for m in DEEP_MODELS]}
        if path.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": m} for m in DEEP_MODELS]}
        return default_answer(path)

    return answer


async def _probe(facade: IntegrationsFacade, provider: str, base: str, model: str | None) -> str:
    """Run byok's probe (deep when there is a model) through the facade; returns the key."""
    secret = "sk-fidelity-" + pysecrets.token_hex(8)
    config: dict[str, Any] = {"base_url": base}
    if provider == "azure_openai":
        config["api_version"] = "2024-10-21"
    detail = await facade.create_integration(
        "t1",
        name=f"{provider}-{pysecrets.token_hex(3)}",
        provider_type=provider,
        credential=secret if provider_info(provider).needs_key else "",  # Ollama: none
        default_model=model,
        config=config,
    )
    await facade.enable_integration("t1", detail.id)
    result = await facade.test_credentials("t1", detail.id, deep=model is not None)
    assert result is not None and result.health_state.value == "healthy", result.message
    return secret


def _split(requests: list[Captured]) -> dict[str, Captured]:
    """byok's requests by the SDK call each stands for."""
    out = {"probe": requests[0]}
    for r in requests[1:]:
        out["deep" if r.method == "POST" else "model"] = r
    return out


def _assert_same(
    provider: str, sdk: dict[str, Any], ours: Captured, secret: str, version: str
) -> None:
    want = sdk["request"]
    where = f"{provider} {sdk['sdk']} {version} {sdk['call']}"
    assert ours.method == want["method"], where
    assert ours.path == want["path"], where
    assert ours.query == want["query"], where
    ours_headers = {k: v.replace(secret, KEY) for k, v in ours.headers.items()}
    deviation = _deviation(provider, version, "auth")
    auth = {k for k, v in want["headers"].items() if KEY in v} | {"anthropic-version"}
    for name, value in want["headers"].items():
        if name in auth and deviation:
            continue
        if name in HARMLESS_HEADERS:
            continue
        assert ours_headers.get(name) == value, (where, name, ours_headers)
    extra = set(ours_headers) - set(want["headers"]) - set(HARMLESS_HEADERS)
    if deviation:
        assert extra == {"x-api-key"} and ours_headers["anthropic-version"] == "2023-06-01"
        assert want["headers"]["authorization"] == "Bearer KEY", where
    else:
        assert not extra, (where, extra)
    if want["method"] == "POST":
        assert ours_headers.get("content-type") == want["headers"].get("content-type"), where
        _assert_same_body(where, want["body"], ours.body)


def _assert_same_body(where: str, want: Any, ours: Any) -> None:
    if want is None:
        assert ours is None, where
        return
    assert isinstance(ours, dict) and isinstance(want, dict), where
    for name, value in ours.items():
        assert want.get(name) == value, (where, name)
    for name in set(want) - set(ours):
        assert SDK_DEFAULT_FIELDS.get(name, object()) == want[name], (where, name)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, CaptureServer]]:
    with (
        CaptureServer(_answer("anthropic")) as anthropic,
        CaptureServer(_answer("together")) as together,
        CaptureServer(_answer("google")) as google,
        CaptureServer(_answer("bedrock")) as bedrock,
        CaptureServer(_answer("ollama")) as ollama,
        CaptureServer(_answer("")) as other,
    ):
        yield {
            "anthropic": anthropic,
            "together": together,
            "google": google,
            "bedrock": bedrock,
            "ollama": ollama,
            "": other,
        }


GROUP_CASES = [
    pytest.param(prov, ver, caps, form, id=f"{prov}-{sdk}-{ver}-{form or 'root'}")
    for prov, sdk, ver, caps in _groups()
    for form in _forms(prov, caps[0])
]


@pytest.mark.parametrize(("provider", "version", "captures", "form"), GROUP_CASES)
async def test_byok_sends_what_the_sdk_sends(
    facade: IntegrationsFacade,
    servers: dict[str, CaptureServer],
    provider: str,
    version: str,
    captures: list[dict[str, Any]],
    form: str,
) -> None:
    server = servers.get(provider, servers[""])
    server.take()
    model = next((c["model"] for c in captures if c["model"]), None)
    secret = await _probe(facade, provider, server.url + form, model)
    ours = _split(server.take())
    for capture in captures:
        assert capture["call"] in ours, (provider, capture["call"], list(ours))
        _assert_same(provider, capture, ours[capture["call"]], secret, version)


# -- default hosts ----------------------------------------------------------------------------


def _byok_default(provider: str, capture: dict[str, Any]) -> str:
    kind = ProviderType(provider)
    config: dict[str, Any] = {}
    if provider == "azure_openai":  # no default: the SDK was given this resource
        config = {"base_url": "https://RESOURCE.openai.azure.com"}
    model = capture["model"]
    if capture["call"] == "probe":
        request = p.build_probe(kind, config, "k")
    elif capture["call"] == "model":  # after a healthy list that lacks the alias
        listed = p.Verdict(p.HealthState.HEALTHY, "ok", "", models=[f"{model}-20250929"])
        request = p.build_model_lookup(kind, config, "k", model, listed)
    else:
        request = p.build_deep(kind, config, "k", model)
    assert request is not None
    return request.url


DEFAULT_CASES = [
    pytest.param(prov, c, id=f"{prov}-{c['sdk']}-{c['version']}-{c['call']}")
    for prov, c in CAPTURES
    if c["default_url"]
]


@pytest.mark.parametrize(("provider", "capture"), DEFAULT_CASES)
def test_default_url_is_the_sdks(provider: str, capture: dict[str, Any]) -> None:
    ours, theirs = urlsplit(_byok_default(provider, capture)), urlsplit(capture["default_url"])
    why = _deviation(provider, capture["version"], "default")
    same = (ours.scheme, ours.netloc.lower(), ours.path, parse_qs(ours.query)) == (
        theirs.scheme,
        theirs.netloc.lower(),
        theirs.path,
        parse_qs(theirs.query),
    )
    assert same is (why is None), (provider, capture["version"], ours, theirs, why)


def test_bedrock_converse_goes_to_the_runtime_host() -> None:
    """boto3's bedrock-runtime client, whatever bedrock endpoint base_url names."""
    for base, runtime in [
        ("https://bedrock.eu-west-1.amazonaws.com", "https://bedrock-runtime.eu-west-1.amazonaws.com"),
        ("https://bedrock-fips.us-east-1.amazonaws.com", "https://bedrock-runtime-fips.us-east-1.amazonaws.com"),
        ("https://proxy.example.com/bedrock", "https://proxy.example.com/bedrock"),
    ]:  # fmt: skip
        deep = p.build_deep(ProviderType.BEDROCK, {"base_url": base}, "k", "amazon.nova-pro-v1:0")
        probe = p.build_probe(ProviderType.BEDROCK, {"base_url": base}, "k")
        assert deep is not None and deep.url == f"{runtime}/model/amazon.nova-pro-v1%3A0/converse"
        assert probe.url == f"{base}/foundation-models"
    deep = p.build_deep(ProviderType.BEDROCK, {"region": "ap-south-1"}, "k", "m")
    assert deep is not None and deep.url.startswith("https://bedrock-runtime.ap-south-1.")


# -- redirects --------------------------------------------------------------------------------


async def test_a_redirect_is_reported_not_followed(facade: IntegrationsFacade) -> None:
    def moved(path: str) -> tuple[int, Any]:
        return 301, {"moved": True}

    with CaptureServer(moved, headers={"location": "https://api.example.net/v1"}) as server:
        secret = "sk-fidelity-" + pysecrets.token_hex(8)
        detail = await facade.create_integration(
            "t1",
            name="moved",
            provider_type="anthropic",
            credential=secret,
            config={"base_url": server.url},
        )
        result = await facade.test_credentials("t1", detail.id)
        assert result is not None
        assert (result.health_state.value, result.reason) == ("degraded", "redirected")
        assert "https://api.example.net/v1" in (result.message or "")
        assert secret not in (result.message or "")
        assert len(server.take()) == 1  # not followed


# -- answers ----------------------------------------------------------------------------------

H, D, F = "healthy", "degraded", "failing"


def _openai_error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    # openai-python _exceptions.py: APIStatusError subclasses by status; the body's `error`
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _anthropic_error(type_: str, message: str, code: str | None = None) -> dict[str, Any]:
    # Anthropic's errors page and anthropic 2.15.0 types/shared/*_error_object.py: the error's
    # `type`; `error.details.error_code` names the cause (its _exceptions.py, extract_error_code)
    error: dict[str, Any] = {"type": type_, "message": message}
    if code:
        error["details"] = {"error_code": code}
    return {"type": "error", "error": error, "request_id": "req_011"}


def _google_error(code: int, status: str, message: str, reason: str | None = None) -> Any:
    # Gemini API troubleshooting page and google.rpc.Status; google-genai errors.py maps 4xx to
    # ClientError and 5xx to ServerError (it reads `error.status`)
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return {"error": error}


ANSWERS: list[tuple[str, int, Any, dict[str, str], str, str]] = [
    # provider, status, body, headers, state, reason
    ("openai", 401, _openai_error("Incorrect API key provided: sk-abc...wxyz.",
                                  "invalid_request_error", "invalid_api_key"),
     {}, F, "invalid_key"),
    ("openai", 403, _openai_error("Country, region, or territory not supported",
                                  "request_forbidden", "unsupported_country_region_territory"),
     {}, F, "forbidden"),
    ("openai", 404, _openai_error("The model `gpt-9` does not exist", "invalid_request_error",
                                  "model_not_found"), {}, F, "not_found"),
    ("openai", 429, _openai_error("You exceeded your current quota", "insufficient_quota",
                                  "insufficient_quota"), {}, F, "no_credit"),
    ("openai", 429, _openai_error("Rate limit reached for requests", "requests",
                                  "rate_limit_exceeded"), {"retry-after": "20"}, D, "rate_limited"),
    ("openai", 500, _openai_error("The server had an error", "server_error", None), {}, D,
     "provider_error"),
    ("openai", 503, _openai_error("The engine is currently overloaded", "server_error", None), {},
     D, "provider_error"),
    # openai-python and anthropic-sdk retry 408 like 5xx (_base_client._should_retry)
    ("openai", 408, _openai_error("Request timed out", "timeout", None), {}, D, "provider_error"),
    ("anthropic", 401, _anthropic_error("authentication_error", "invalid x-api-key"), {}, F,
     "invalid_key"),
    ("anthropic", 403, _anthropic_error("permission_error", "not allowed"), {}, F, "forbidden"),
    ("anthropic", 404, _anthropic_error("not_found_error", "model: claude-9"), {}, F, "not_found"),
    ("anthropic", 402, _anthropic_error("billing_error", "billing issue"), {}, F, "no_credit"),
    ("anthropic", 400, _anthropic_error(
        "invalid_request_error", "Your credit balance is too low to access the Anthropic API. "
        "Please go to Plans & Billing to upgrade or purchase credits."), {}, F, "no_credit"),
    ("anthropic", 429, _anthropic_error("rate_limit_error", "rate limited"),
     {"retry-after": "7"}, D, "rate_limited"),
    # ContractSpendLimitReachedError / EnforcedSpendLimitReachedError subclass RateLimitError
    ("anthropic", 429, _anthropic_error("rate_limit_error", "spend limit",
                                        "enforced_spend_limit_reached"), {}, F, "no_credit"),
    ("anthropic", 429, _anthropic_error("rate_limit_error", "contract limit",
                                        "contract_spend_limit_reached"), {}, F, "no_credit"),
    ("anthropic", 429, _anthropic_error("rate_limit_error", "ramp", "ramp_limit_exceeded"),
     {"retry-after": "3"}, D, "rate_limited"),
    ("anthropic", 400, _anthropic_error("invalid_request_error", "on hold",
                                        "organization_on_hold"), {}, F, "forbidden"),
    ("anthropic", 413, _anthropic_error("request_too_large", "too large"), {}, F, "http_error"),
    ("anthropic", 500, _anthropic_error("api_error", "internal"), {}, D, "provider_error"),
    ("anthropic", 529, _anthropic_error("overloaded_error", "Overloaded"), {}, D,
     "provider_error"),
    # Azure OpenAI REST reference: error responses
    ("azure_openai", 401, {"error": {"code": "401", "message": "Access denied due to invalid "
                                     "subscription key or wrong API endpoint."}}, {}, F,
     "invalid_key"),
    ("azure_openai", 404, {"error": {"code": "DeploymentNotFound", "message": "The API "
                                     "deployment for this resource does not exist."}}, {}, F,
     "not_found"),
    ("azure_openai", 429, {"error": {"code": "429", "message": "Requests have exceeded the call "
                                     "rate limit."}}, {"retry-after": "5"}, D, "rate_limited"),
    ("google", 400, _google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a "
                                  "valid API key.", "API_KEY_INVALID"), {}, F, "invalid_key"),
    ("google", 400, _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload"), {}, F,
     "http_error"),
    ("google", 403, _google_error(403, "PERMISSION_DENIED", "no permission"), {}, F,
     "forbidden"),
    ("google", 404, _google_error(404, "NOT_FOUND", "models/x is not found"), {}, F, "not_found"),
    ("google", 429, _google_error(429, "RESOURCE_EXHAUSTED", "quota exceeded"), {}, D,
     "rate_limited"),
    ("google", 500, _google_error(500, "INTERNAL", "internal error"), {}, D, "provider_error"),
    ("google", 503, _google_error(503, "UNAVAILABLE", "overloaded"), {}, D, "provider_error"),
    # mistralai 3.7.0: SDKError for 4XX/5XX, HTTPValidationError for 422; the body's `message`
    ("mistral", 401, {"message": "Unauthorized", "request_id": "abc"}, {}, F, "invalid_key"),
    ("mistral", 429, {"message": "Requests rate limit exceeded"}, {}, D, "rate_limited"),
    ("mistral", 422, {"detail": [{"msg": "field required"}]}, {}, F, "http_error"),
    # cohere 7.3.1 raw_base_client.py: 401 UnauthorizedError, 498 InvalidTokenError, 429
    # TooManyRequestsError, 503 ServiceUnavailableError
    ("cohere", 498, {"message": "invalid api token"}, {}, F, "invalid_key"),
    ("cohere", 401, {"message": "no api key supplied"}, {}, F, "invalid_key"),
    ("cohere", 429, {"message": "trial key rate limit"}, {}, D, "rate_limited"),
    ("cohere", 503, {"message": "service unavailable"}, {}, D, "provider_error"),
    ("cohere", 200, {"valid": False, "organization_id": None, "owner_id": None}, {}, F,
     "invalid_key"),
    # Groq's error codes page: 498 is its own, "Flex Tier Capacity Exceeded" (retryable)
    ("groq", 401, _openai_error("Invalid API Key", "invalid_request_error", "invalid_api_key"),
     {}, F, "invalid_key"),
    ("groq", 498, _openai_error("capacity exceeded", "capacity_exceeded", "capacity_exceeded"),
     {}, D, "provider_error"),
    ("groq", 429, _openai_error("Rate limit reached", "tokens", "rate_limit_exceeded"),
     {"retry-after": "2"}, D, "rate_limited"),
    # Together's error codes page: 402 when the account reached its spending limit
    ("together", 401, _openai_error("Invalid API key provided", "invalid_request_error",
                                    "invalid_api_key"), {}, F, "invalid_key"),
    ("together", 402, _openai_error("Credit limit exceeded", "credit_limit", None), {}, F,
     "no_credit"),
    # DeepSeek's error codes page: 401 Authentication Fails, 402 Insufficient Balance, 503
    ("deepseek", 401, _openai_error("Authentication Fails", "authentication_error", None), {}, F,
     "invalid_key"),
    ("deepseek", 402, _openai_error("Insufficient Balance", "unknown_error", None), {}, F,
     "no_credit"),
    ("deepseek", 503, _openai_error("Server Overloaded", "server_error", None), {}, D,
     "provider_error"),
    # OpenRouter's errors page: 401 invalid credentials, 402 insufficient credits
    ("openrouter", 401, {"error": {"code": 401, "message": "No auth credentials found"}}, {}, F,
     "invalid_key"),
    ("openrouter", 402, {"error": {"code": 402, "message": "Insufficient credits"}}, {}, F,
     "no_credit"),
    # botocore bedrock service-2.json: AccessDeniedException 403, ThrottlingException 429,
    # ValidationException 400; a bad API key or token: 403 with these texts (AWS common errors)
    ("bedrock", 403, {"Message": "Authentication failed: Please make sure your API Key is "
                      "valid."}, {}, F, "invalid_key"),
    ("bedrock", 403, {"message": "The security token included in the request is invalid."},
     {"x-amzn-errortype": "UnrecognizedClientException:http://internal.amazon.com/"}, F,
     "invalid_key"),
    ("bedrock", 403, {"message": "User is not authorized to perform bedrock:ListFoundationModels"},
     {"x-amzn-errortype": "AccessDeniedException:http://internal.amazon.com/"}, F, "forbidden"),
    ("bedrock", 429, {"message": "Too many requests"},
     {"x-amzn-errortype": "ThrottlingException:"}, D, "rate_limited"),
    ("bedrock", 400, {"message": "1 validation error detected"},
     {"x-amzn-errortype": "ValidationException:"}, F, "http_error"),
    ("bedrock", 503, {"message": "Service unavailable"}, {}, D, "provider_error"),
    ("ollama", 404, {"error": "model 'llama9' not found"}, {}, F, "not_found"),
    ("ollama", 500, {"error": "llama runner process has terminated"}, {}, D, "provider_error"),
]  # fmt: skip

DEEP_ANSWERS: list[tuple[str, int, Any, dict[str, str], str, str]] = [
    # bedrock-runtime Converse: ModelErrorException 424, ModelTimeoutException 408,
    # ResourceNotFoundException 404, ModelNotReadyException 429
    ("bedrock", 424, {"message": "The model failed"}, {"x-amzn-errortype": "ModelErrorException:"},
     D, "provider_error"),
    ("bedrock", 408, {"message": "Model timed out"}, {"x-amzn-errortype": "ModelTimeoutException:"},
     D, "provider_error"),
    ("bedrock", 404, {"message": "Model not found"},
     {"x-amzn-errortype": "ResourceNotFoundException:"}, F, "not_found"),
    ("bedrock", 429, {"message": "Model not ready"},
     {"x-amzn-errortype": "ModelNotReadyException:"}, D, "rate_limited"),
    ("anthropic", 400, _anthropic_error(
        "invalid_request_error", "Your credit balance is too low to access the Anthropic API."),
     {}, F, "no_credit"),
    ("openai", 200, {"id": "chatcmpl-1", "choices": []}, {}, H, "ok"),
    ("openai", 200, b"<html>proxy</html>", {}, D, "bad_answer"),
]  # fmt: skip


def _raw(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


CLASSIFIED = [(False, *a) for a in ANSWERS] + [(True, *a) for a in DEEP_ANSWERS]


@pytest.mark.parametrize(
    ("deep", "provider", "status", "body", "headers", "state", "reason"),
    CLASSIFIED,
    ids=[f"{'deep-' if a[0] else ''}{a[1]}-{a[2]}-{i}" for i, a in enumerate(CLASSIFIED)],
)
def test_documented_answers_are_classified(
    deep: bool,
    provider: str,
    status: int,
    body: Any,
    headers: dict[str, str],
    state: str,
    reason: str,
) -> None:
    read = p.deep_verdict if deep else p.read_answer
    verdict = read(ProviderType(provider), status, headers, _raw(body), ("sk-abc",))
    assert (verdict.state.value, verdict.reason) == (state, reason), verdict.message
    if "retry-after" in headers:
        assert verdict.retry_after_s == float(headers["retry-after"])


def _openrouter_key(**changes: Any) -> dict[str, Any]:
    """GET /key's `data`, every field the openrouter SDK (1.3.84, operations/getcurrentkey.py,
    GetCurrentKeyData; components/keybudget.py) declares."""
    data: dict[str, Any] = {
        "allowed_data_regions": ["global"],
        "budgets": [],
        "byok_usage": 0.0, "byok_usage_daily": 0.0, "byok_usage_monthly": 0.0,
        "byok_usage_weekly": 0.0,
        "creator_user_id": "user_1",
        "effective_budget": None,
        "free_model_daily_requests": {"limit": 1000, "remaining": 998, "used": 2},
        "include_byok_in_limit": False,
        "is_free_tier": False, "is_management_key": False, "is_provisioning_key": False,
        "label": "sk-or-v1-0e6...1c96", "limit": 100.0, "limit_remaining": 74.5,
        "limit_reset": "monthly", "organization_id": None,
        "rate_limit": {"interval": "10s", "note": "deprecated", "requests": -1},
        "usage": 25.5, "usage_daily": 1.0, "usage_monthly": 25.5, "usage_weekly": 5.0,
        "workspace_id": "ws_1", "expires_at": None,
    }  # fmt: skip
    data.update(changes)
    return {"data": data}


def _budget(scope: str, limit: float, spend: float, resets_at: str | None) -> dict[str, Any]:
    return {
        "budget_id": None, "guardrail_id": "gr_1", "include_byok": False, "limit_usd": limit,
        "remaining_usd": limit - spend, "reset_interval": "monthly" if resets_at else None,
        "resets_at": resets_at, "scope": scope, "spend_usd": spend,
    }  # fmt: skip


SPENT = _budget("workspace", 50.0, 50.0, "2026-12-01T00:00:00Z")
OPENROUTER_KEYS = [
    ("plain", _openrouter_key(), H, "ok"),
    ("legacy fields only", {"data": {"label": "x", "limit": None, "usage": 1.5}}, H, "ok"),
    ("own limit used up", _openrouter_key(limit_remaining=0.0), F, "no_credit"),
    ("effective budget spent", _openrouter_key(effective_budget=SPENT, budgets=[SPENT]), F,
     "no_credit"),
    ("a spent layer, no effective_budget", _openrouter_key(budgets=[SPENT]), F, "no_credit"),
    ("budget left", _openrouter_key(
        effective_budget=_budget("api_key", 10.0, 4.0, None)), H, "ok"),
    ("management key", _openrouter_key(is_management_key=True), F, "forbidden"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "state", "reason"),
    [c[1:] for c in OPENROUTER_KEYS],
    ids=[c[0] for c in OPENROUTER_KEYS],
)
def test_openrouter_key_budgets(body: dict[str, Any], state: str, reason: str) -> None:
    verdict = p.read_answer(ProviderType.OPENROUTER, 200, {}, _raw(body), ())
    assert (verdict.state.value, verdict.reason) == (state, reason), verdict.message
    if body["data"].get("effective_budget"):
        kept = verdict.provider_info["effective_budget"]
        assert kept["remaining_usd"] == body["data"]["effective_budget"]["remaining_usd"]
    if body is OPENROUTER_KEYS[3][1]:
        assert "workspace budget is spent" in verdict.message and "2026-12-01" in verdict.message


def test_anthropic_lookup_reads_the_resolved_id() -> None:
    verdict = p.Verdict(p.HealthState.HEALTHY, "ok", "", models=["claude-sonnet-4-5-20250929"])
    assert p.model_offered(ProviderType.ANTHROPIC, "claude-sonnet-4-5", verdict.models) is False
    # anthropic 2.15.0 types/model_info.py: ModelInfo {id, type, display_name, created_at}
    found = {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude",
             "created_at": "2025-09-29T00:00:00Z"}  # fmt: skip
    p.read_model_lookup(verdict, "claude-sonnet-4-5", 200, _raw(found))
    assert verdict.provider_info["default_model_id"] == "claude-sonnet-4-5-20250929"
    assert p.model_offered(ProviderType.ANTHROPIC, "claude-sonnet-4-5", verdict.models,
                           verdict.aliases) is True  # fmt: skip
    missing = p.Verdict(p.HealthState.HEALTHY, "ok", "")
    p.read_model_lookup(missing, "claude-9", 404, _raw(_anthropic_error("not_found_error", "x")))
    assert missing.aliases == {} and "default_model_id" not in missing.provider_info
    listed = p.Verdict(p.HealthState.HEALTHY, "ok", "", models=["gpt-4o-mini"])
    assert p.build_model_lookup(ProviderType.OPENAI, {}, "k", "gpt-4o", listed) is None
    lookup = p.build_model_lookup(ProviderType.ANTHROPIC, {}, "k", "claude-9", listed)
    assert lookup is not None and lookup.url == "https://api.anthropic.com/v1/models/claude-9"
    for model, models in [("claude-9", ["claude-9"]), (None, ["x"]), ("claude-9", [])]:
        held = p.Verdict(p.HealthState.HEALTHY, "ok", "", models=models)
        assert p.build_model_lookup(ProviderType.ANTHROPIC, {}, "k", model, held) is None
    failing = p.Verdict(p.HealthState.FAILING, "invalid_key", "", models=["x"])
    assert p.build_model_lookup(ProviderType.ANTHROPIC, {}, "k", "claude-9", failing) is None


async def test_the_fake_provider_resolves_anthropic_aliases(facade: IntegrationsFacade) -> None:
    """tui/demo/fakeprovider.py serves GET /v1/models/{model_id} as Anthropic documents it."""
    import httpx

    from tui.demo.fakeprovider import FakeProviderServer

    headers = {"x-api-key": "sk-test@ok@1", "anthropic-version": "2023-06-01"}
    with FakeProviderServer() as server:
        async with httpx.AsyncClient(base_url=server.base_url_for("anthropic")) as client:
            for wanted, found in [
                ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
                ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
                ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"),
            ]:
                r = await client.get(f"/v1/models/{wanted}", headers=headers)
                assert r.status_code == 200 and r.json()["id"] == found
                assert r.json()["type"] == "model"
            r = await client.get("/v1/models/claude-9", headers=headers)
            assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
            listed = (await client.get("/v1/models", headers=headers)).json()
            assert "claude-sonnet-4-5" not in [m["id"] for m in listed["data"]]
