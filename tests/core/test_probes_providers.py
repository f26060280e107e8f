"""Every provider against the fake provider server over real sockets: each scripted outcome maps
to the contract's state and reason, with the provider's own auth header and route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.providers import ALL_PROVIDERS, files_containing, key_for, make

from core import HealthState, IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer, refused_base_url

H, D, F = HealthState.HEALTHY, HealthState.DEGRADED, HealthState.FAILING

# outcome -> (state, reason)
COMMON = {
    "ok": (H, "ok"),
    "slow:400": (D, "slow"),
    "401": (F, "invalid_key"),
    "403": (F, "forbidden"),
    "404": (F, "not_found"),
    "402": (F, "no_credit"),
    "429:7": (D, "rate_limited"),
    "quota": (F, "no_credit"),
    "500": (D, "provider_error"),
    "503": (D, "provider_error"),
    "529": (D, "provider_error"),
    "400": (F, "http_error"),
    "malformed": (D, "bad_answer"),
    "hang": (F, "timeout"),
    "reset": (F, "unreachable"),
    "close": (F, "unreachable"),
    "echo": (F, "invalid_key"),
}
CASES = [(p, o, *COMMON[o]) for p in ALL_PROVIDERS for o in COMMON]
CASES += [
    ("google", "gemini_invalid", F, "invalid_key"),
    ("cohere", "cohere_invalid", F, "invalid_key"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        s.hang_s = 5.0
        yield s


@pytest.fixture
async def fast_facade(db_path: Path):
    f = IntegrationsFacade(db_path, probe_timeout_s=0.5, slow_threshold_ms=250)
    yield f
    await f.aclose()


@pytest.mark.parametrize(("provider", "outcome", "state", "reason"), CASES)
async def test_outcome_maps_to_state_and_reason(
    fast_facade: IntegrationsFacade,
    server: FakeProviderServer,
    provider: str,
    outcome: str,
    state: HealthState,
    reason: str,
    tmp_path: Path,
    isolated_env: Path,
) -> None:
    secret = key_for(outcome)
    iid = await make(fast_facade, server, provider, secret)
    result = await fast_facade.test_credentials("t1", iid)
    assert result is not None
    assert (result.health_state, result.reason) == (state, reason), result.message
    assert result.integration_id == iid and result.message
    assert result.checked_at.tzinfo is not None
    if outcome == "429:7":
        assert result.retry_after_s == pytest.approx(7.0)
    if outcome == "ok":
        assert result.latency_ms is not None and result.latency_ms < 250
        assert result.http_status == 200
    if outcome.startswith("slow"):
        assert result.latency_ms is not None and result.latency_ms >= 400
    # The fake server saw the key through this provider's own header, on its probe route.
    seen = [r for r in server.requests if r.key == secret]
    assert seen and seen[-1].route == "probe"
    # Stored on the integration and in the log; the secret is nowhere.
    status = await fast_facade.get_health_status("t1", iid)
    assert status is not None and status.health_state == state and status.health_reason == reason
    log = await fast_facade.get_health_log("t1", iid)
    assert [(e.health_state, e.reason) for e in log] == [(state, reason)]
    for text in (result.model_dump_json(), log[0].model_dump_json(), status.model_dump_json()):
        assert secret not in text and secret[-12:] not in text
    assert files_containing([tmp_path, isolated_env], secret.encode()) == []


async def test_openrouter_keeps_spend_and_cohere_owner(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> None:
    rid = await make(facade, server, "openrouter", key_for("ok"))
    r = await facade.test_credentials("t1", rid)
    assert r is not None and r.health_state == H
    assert r.provider_info["limit"] == 100 and r.provider_info["usage"] == 25.5
    assert r.provider_info["limit_remaining"] == 74.5
    cid = await make(facade, server, "cohere", key_for("ok"))
    c = await facade.test_credentials("t1", cid)
    assert c is not None and c.provider_info["organization_id"] == "org-fake"


async def test_models_listed_and_default_model_checked(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> None:
    good = await make(facade, server, "openai", key_for("ok"), default_model="gpt-4o-mini")
    r = await facade.test_credentials("t1", good)
    assert r is not None and r.reason == "ok" and "gpt-4o-mini" in r.models
    bad = await make(facade, server, "anthropic", key_for("ok"), default_model="claude-9")
    r = await facade.test_credentials("t1", bad)
    assert r is not None and (r.health_state, r.reason) == (D, "model_unavailable")
    assert "claude-9" in (r.message or "")
    gem = await make(facade, server, "google", key_for("ok"), default_model="gemini-2.5-pro")
    r = await facade.test_credentials("t1", gem)
    assert r is not None and r.reason == "ok" and "gemini-2.5-pro" in r.models
    prof = await make(
        facade, server, "bedrock", key_for("ok"), default_model="us.amazon.nova-pro-v1:0"
    )
    r = await facade.test_credentials("t1", prof)
    assert r is not None and r.reason == "ok"
    oll = await make(facade, server, "ollama", "", default_model="llama3.2")
    r = await facade.test_credentials("t1", oll)
    assert r is not None and r.reason == "ok" and "llama3.2:latest" in r.models
    # Together answers a bare JSON array (its API reference), not {"data": [...]}
    tog = await make(
        facade,
        server,
        "together",
        key_for("ok"),
        default_model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
    )
    r = await facade.test_credentials("t1", tog)
    assert r is not None and r.reason == "ok" and len(r.models) == 1
    # Azure lists base models while default_model names a deployment: not judged.
    az = await make(facade, server, "azure_openai", key_for("ok"), default_model="my-deploy")
    r = await facade.test_credentials("t1", az)
    assert r is not None and r.reason == "ok"


async def test_no_key_providers_probe_without_auth(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> None:
    for provider in ("ollama", "custom"):
        iid = await make(facade, server, provider, "")
        r = await facade.test_credentials("t1", iid)
        assert r is not None and r.reason == "ok", r.message
    # openai without a usable Bearer header is refused by the fake server, as by the real one
    async with httpx.AsyncClient() as client:
        for provider, headers in [
            ("openai", {}),
            ("anthropic", {"authorization": "Bearer sk-x"}),
            ("anthropic", {"x-api-key": "sk-x"}),  # anthropic-version missing
            ("google", {"authorization": "Bearer sk-x"}),
            ("azure_openai", {"api-key": "sk-x"}),  # api-version missing
        ]:
            route = {"anthropic": "/v1/models", "google": "/v1beta/models"}.get(provider, "/models")
            if provider == "azure_openai":
                route = "/openai/models"
            resp = await client.get(server.base_url_for(provider) + route, headers=headers)
            assert resp.status_code == 401, (provider, headers)


async def test_refused_connection_is_unreachable(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> None:
    iid = await make(facade, server, "openai", key_for("ok"), base_url=refused_base_url("openai"))
    r = await facade.test_credentials("t1", iid)
    assert r is not None and (r.health_state, r.reason) == (F, "unreachable")
    assert "127.0.0.1" in (r.message or "")


async def test_total_timeout_is_an_overall_deadline(
    db_path: Path, server: FakeProviderServer
) -> None:
    """A server that keeps sending header lines never trips a per-read timeout."""
    f = IntegrationsFacade(db_path, probe_timeout_s=0.6)
    try:
        iid = await make(f, server, "openai", key_for("drip:4"))
        started = time.perf_counter()
        r = await f.test_credentials("t1", iid)
        elapsed = time.perf_counter() - started
        assert r is not None and (r.health_state, r.reason) == (F, "timeout")
        assert elapsed < 1.5
        assert "0.6 s" in (r.message or "")
    finally:
        await f.aclose()


async def test_credential_error_sets_status_error(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> None:
    iid = await make(facade, server, "openai", "env:BYOK_TEST_MISSING_KEY")
    r = await facade.test_credentials("t1", iid)
    assert r is not None and (r.health_state, r.reason) == (F, "credential_error")
    assert "BYOK_TEST_MISSING_KEY" in (r.message or "")
    detail = await facade.get_integration("t1", iid)
    assert detail is not None and detail.status.value == "error"
    assert not [x for x in server.requests if x.path.endswith("BYOK_TEST_MISSING_KEY")]


async def test_deep_probe_reads_rate_limit_headers(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> None:
    oa = await make(facade, server, "openai", key_for("ok"), default_model="gpt-4o")
    r = await facade.test_credentials("t1", oa, deep=True)
    assert r is not None and r.reason == "ok"
    assert r.rate_limits["x-ratelimit-remaining-requests"] == 499
    assert r.rate_limits["x-ratelimit-remaining-tokens"] == 29991
    an = await make(facade, server, "anthropic", key_for("ok"), default_model="claude-sonnet-4-5")
    r = await facade.test_credentials("t1", an, deep=True)
    assert r is not None and r.rate_limits["anthropic-ratelimit-requests-remaining"] == 49
    # The list holds dated ids (as Anthropic's does): the alias is resolved by GET /v1/models/{id}.
    routes = [x.route for x in server.requests if x.provider == "anthropic"][-3:]
    assert routes == ["probe", "model", "chat"]
    assert r.reason == "ok" and r.provider_info["default_model_id"] == "claude-sonnet-4-5-20250929"
    # Off by default: no completion was sent for a plain probe.
    before = len([x for x in server.requests if x.route == "chat"])
    await facade.test_credentials("t1", oa)
    assert len([x for x in server.requests if x.route == "chat"]) == before
    log = await facade.get_health_log("t1", oa)
    assert [e.deep for e in log] == [False, True]


async def test_deep_probe_failure_on_the_completion(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> None:
    secret = key_for("ok")
    server.script(secret, "429:3", route="chat")
    iid = await make(facade, server, "groq", secret, default_model="llama-3.1-8b-instant")
    r = await facade.test_credentials("t1", iid, deep=True)
    assert r is not None and (r.health_state, r.reason) == (D, "rate_limited")
    assert r.retry_after_s == pytest.approx(3.0) and "deep probe" in (r.message or "")
    no_model = await make(facade, server, "openai", key_for("ok"))
    r = await facade.test_credentials("t1", no_model, deep=True)
    assert r is not None and r.reason == "ok" and "skipped" in r.provider_info["deep"]


async def test_azure_api_version_and_base_path_kept(
    db_path: Path, server: FakeProviderServer
) -> None:
    f = IntegrationsFacade(db_path)
    try:
        # base_url with a path: the probe appends to it instead of replacing it
        iid = await make(f, server, "groq", key_for("ok"))
        r = await f.test_credentials("t1", iid)
        assert r is not None and r.reason == "ok"
        assert server.requests[-1].path.endswith("/groq/openai/v1/models")
        detail = await f.create_integration(
            "t1",
            name="az",
            provider_type="azure_openai",
            credential=key_for("ok"),
            config={"base_url": server.base_url_for("azure_openai"), "api_version": "2024-06-01"},
        )
        r = await f.test_credentials("t1", detail.id)
        assert r is not None and r.reason == "ok"
    finally:
        await f.aclose()


async def test_unknown_integration_and_bad_options(
    facade: IntegrationsFacade, db_path: Path
) -> None:
    assert await facade.test_credentials("t1", "0" * 32) is None
    from core import ValidationError

    with pytest.raises(ValidationError):
        IntegrationsFacade(db_path, probe_timeout_s=0)
    with pytest.raises(ValidationError):
        IntegrationsFacade(db_path, health_log_retention=0)


@pytest.mark.parametrize("provider", ALL_PROVIDERS)
async def test_deep_probe_route_of_every_provider(
    facade: IntegrationsFacade, server: FakeProviderServer, provider: str
) -> None:
    """The completion route and auth of each provider, against the fake server's own table."""
    model = server.models.get(provider, ["m"])[0] if provider != "openrouter" else "openai/gpt-4o"
    secret = key_for("ok")
    iid = await make(facade, server, provider, secret, default_model=model)
    r = await facade.test_credentials("t1", iid, deep=True)
    assert r is not None and (r.health_state, r.reason) == (H, "ok"), r.message
    seen = [x.route for x in server.requests if x.key == secret]
    assert seen == ["probe", "chat"]
    assert "HTTP 200" in r.provider_info["deep"]
