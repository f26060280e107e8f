"""The contract's rules for create, list, get, update, delete and the lifecycle."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta

import pytest

from core import (
    CredentialSource,
    DuplicateNameError,
    HealthState,
    IntegrationsFacade,
    IntegrationStatus,
    InvalidTransitionError,
    ProviderType,
    ValidationError,
)

T = "acme"
KEY = "sk-test-abcdefghijklmnopqrstuvwxyz0123456789"


async def make(facade: IntegrationsFacade, name: str = "prod", **kw):
    kw.setdefault("provider_type", "openai")
    kw.setdefault("credential", KEY)
    return await facade.create_integration(T, name=name, **kw)


async def test_create_defaults(facade: IntegrationsFacade) -> None:
    before = datetime.now(UTC)
    d = await make(facade, "  Prod OpenAI  ", default_model="gpt-4o", budget_limit_cents=5000)
    assert d.name == "Prod OpenAI"
    assert d.tenant_id == T
    assert d.provider_type is ProviderType.OPENAI and d.provider_type == "openai"
    assert d.status == IntegrationStatus.CREATED
    assert d.health_state == HealthState.UNKNOWN
    assert d.health_checked_at is None and d.health_message is None
    assert d.default_model == "gpt-4o"
    assert (d.budget_limit_cents, d.token_limit_month, d.rate_limit_rpm) == (5000, 0, 0)
    assert d.created_at.tzinfo is not None and before <= d.created_at <= datetime.now(UTC)
    assert d.updated_at is None
    assert d.created_by == getpass.getuser()
    assert d.credential_source == CredentialSource.ENCRYPTED
    assert d.credential_hint == "sk-…6789"
    assert KEY not in d.model_dump_json()


async def test_created_at_keeps_microseconds(db_path) -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    f = IntegrationsFacade(db_path, clock=lambda: moment)
    d = await f.create_integration(T, name="a", provider_type="ollama")
    again = await f.get_integration(T, d.id)
    assert again is not None and again.created_at == moment
    assert again.created_at.microsecond == 123456


async def test_created_by_given(facade: IntegrationsFacade) -> None:
    d = await make(facade, created_by="alice")
    assert d.created_by == "alice"


async def test_name_bounds(facade: IntegrationsFacade) -> None:
    assert (await make(facade, "x" * 255)).name == "x" * 255
    with pytest.raises(ValidationError) as e:
        await make(facade, "y" * 256)
    assert "name" in e.value.errors
    for bad in ("", "   ", "\t\n"):
        with pytest.raises(ValidationError):
            await make(facade, bad)


async def test_duplicate_names_case_and_space_insensitive(facade: IntegrationsFacade) -> None:
    await make(facade, "Prod")
    for clash in ("prod", " PROD ", "Prod"):
        with pytest.raises(DuplicateNameError) as e:
            await make(facade, clash)
        assert isinstance(e.value, ValueError)
    # another tenant may use the name
    other = await facade.create_integration("other", name="prod", provider_type="ollama")
    assert other.name == "prod"


async def test_limits_must_be_non_negative_ints(facade: IntegrationsFacade) -> None:
    for field in ("budget_limit_cents", "token_limit_month", "rate_limit_rpm"):
        for bad in (-1, 1.5, "10", True, None):
            with pytest.raises(ValidationError) as e:
                await make(facade, f"n-{field}-{bad!r}", **{field: bad})
            assert field in e.value.errors
    assert (await facade.list_integrations(T)).total == 0


async def test_credential_required_except_keyless(facade: IntegrationsFacade) -> None:
    with pytest.raises(ValidationError) as e:
        await facade.create_integration(T, name="k", provider_type="anthropic")
    assert "credential" in e.value.errors
    o = await facade.create_integration(T, name="local", provider_type="ollama")
    assert o.credential_source == CredentialSource.NONE and o.credential_hint is None
    c = await facade.create_integration(
        T, name="vllm", provider_type="custom", config={"base_url": "http://127.0.0.1:8000/v1"}
    )
    assert c.config == {"base_url": "http://127.0.0.1:8000/v1"}


async def test_base_url_required_for_azure_and_custom(facade: IntegrationsFacade) -> None:
    for kind in ("azure_openai", "custom"):
        with pytest.raises(ValidationError) as e:
            await facade.create_integration(T, name=kind, provider_type=kind, credential=KEY)
        assert "config.base_url" in e.value.errors
    bad_urls = ("ftp://x", "http://", "not a url", "https://u:p@host/v1", "https://h/v1?x=1")
    for url in bad_urls:
        with pytest.raises(ValidationError):
            await make(facade, "u", config={"base_url": url})


async def test_env_and_file_references(facade: IntegrationsFacade, tmp_path) -> None:
    e = await make(facade, "e", credential="env:OPENAI_API_KEY")
    assert (e.credential_source, e.credential_hint) == (CredentialSource.ENV, "env:OPENAI_API_KEY")
    f = await make(facade, "f", credential=f"file:{tmp_path}/key")
    assert (f.credential_source, f.credential_hint) == (
        CredentialSource.FILE,
        f"file:{tmp_path}/key",
    )
    for bad in ("env:", "env:1BAD", "env:A B", "file:relative/path", "file:"):
        with pytest.raises(ValidationError) as err:
            await make(facade, "bad", credential=bad)
        assert "credential" in err.value.errors


async def test_list_order_paging_total(db_path) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    tick = iter(range(1000))
    f = IntegrationsFacade(db_path, clock=lambda: base + timedelta(seconds=next(tick)))
    names = [f"n{i:02d}" for i in range(12)]
    for n in names:
        await f.create_integration(T, name=n, provider_type="ollama")
    page = await f.list_integrations(T, limit=5)
    assert page.total == 12
    assert [i.name for i in page.items] == names[::-1][:5]
    page2 = await f.list_integrations(T, offset=10, limit=5)
    assert [i.name for i in page2.items] == ["n01", "n00"] and page2.total == 12
    assert (await f.list_integrations(T, offset=50)).items == []


async def test_list_ties_broken_by_id_desc(db_path) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    f = IntegrationsFacade(db_path, clock=lambda: moment)
    ids = [
        (await f.create_integration(T, name=f"n{i}", provider_type="ollama")).id for i in range(6)
    ]
    listed = [i.id for i in (await f.list_integrations(T)).items]
    assert listed == sorted(ids, reverse=True)


async def test_list_filters_and_search(facade: IntegrationsFacade) -> None:
    a = await make(facade, "Billing Bot", default_model="gpt-4o-mini")
    b = await facade.create_integration(
        T,
        name="Claude",
        provider_type="anthropic",
        credential=KEY,
        default_model="claude-sonnet-4-5",
    )
    await facade.create_integration(T, name="Local", provider_type="ollama")
    await facade.enable_integration(T, b.id)
    assert {i.id for i in (await facade.list_integrations(T, status="enabled")).items} == {b.id}
    assert (await facade.list_integrations(T, provider_type=ProviderType.OPENAI)).total == 1
    assert [i.id for i in (await facade.list_integrations(T, search="BILLING")).items] == [a.id]
    assert [i.id for i in (await facade.list_integrations(T, search="sonnet")).items] == [b.id]
    assert [i.id for i in (await facade.list_integrations(T, search="anthrop")).items] == [b.id]
    assert (await facade.list_integrations(T, search="nothing-like-this")).total == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"limit": "5"},
        {"status": "bogus"},
        {"provider_type": "skynet"},
        {"search": 42},
    ],
)
async def test_list_rejects_bad_arguments(facade: IntegrationsFacade, kwargs) -> None:
    with pytest.raises(ValidationError):
        await facade.list_integrations(T, **kwargs)


async def test_get_unknown_is_none(facade: IntegrationsFacade) -> None:
    assert await facade.get_integration(T, "does-not-exist") is None
    assert await facade.update_integration(T, "does-not-exist", name="x") is None
    assert await facade.enable_integration(T, "does-not-exist") is None
    assert await facade.disable_integration(T, "does-not-exist") is None
    assert await facade.get_health_status(T, "does-not-exist") is None
    r = await facade.delete_integration(T, "does-not-exist")
    assert (r.deleted, r.integration_id) == (False, "does-not-exist")


async def test_update_partial(facade: IntegrationsFacade) -> None:
    d = await make(facade, default_model="gpt-4o", rate_limit_rpm=60)
    u = await facade.update_integration(T, d.id, budget_limit_cents=100, name=" Renamed ")
    assert u is not None
    assert (u.name, u.budget_limit_cents, u.rate_limit_rpm, u.default_model) == (
        "Renamed",
        100,
        60,
        "gpt-4o",
    )
    assert u.updated_at is not None and u.created_at == d.created_at
    cleared = await facade.update_integration(T, d.id, default_model=None)
    assert cleared is not None and cleared.default_model is None
    assert (await facade.get_integration(T, d.id)).default_model is None


async def test_update_rejects_unknown_or_no_field(facade: IntegrationsFacade) -> None:
    d = await make(facade)
    for fields in ({}, {"provider_type": "anthropic"}, {"status": "enabled"}, {"colour": "red"}):
        with pytest.raises(ValidationError):
            await facade.update_integration(T, d.id, **fields)
    with pytest.raises(ValidationError):
        await facade.update_integration(T, d.id, token_limit_month=-5)
    assert (await facade.get_integration(T, d.id)) == d


async def test_update_name_clash(facade: IntegrationsFacade) -> None:
    await make(facade, "one")
    two = await make(facade, "two")
    with pytest.raises(DuplicateNameError):
        await facade.update_integration(T, two.id, name="ONE")
    same = await facade.update_integration(T, two.id, name="TWO")  # its own name, recased
    assert same is not None and same.name == "TWO"


def _credential_unusable(facade: IntegrationsFacade, iid: str, message: str) -> None:
    """What a probe stores when the credential cannot be read: failing, status error."""
    facade.context.repo.apply_health(
        T,
        iid,
        state=HealthState.FAILING,
        reason="credential_error",
        message=message,
        latency_ms=None,
        checked_at="2026-01-01T00:00:00.000000+00:00",
        credential_unusable=True,
    )


async def test_new_credential_resets_health_and_error(facade: IntegrationsFacade) -> None:
    d = await make(facade)
    _credential_unusable(facade, d.id, "the environment variable X is not set")
    broken = await facade.get_integration(T, d.id)
    assert broken.status == IntegrationStatus.ERROR and broken.health_state == HealthState.FAILING
    with pytest.raises(InvalidTransitionError):
        await facade.enable_integration(T, d.id)
    fixed = await facade.update_integration(
        T, d.id, credential="sk-test-a-brand-new-key-000000000000"
    )
    assert fixed.status == IntegrationStatus.DISABLED
    assert fixed.health_state == HealthState.UNKNOWN and fixed.health_checked_at is None
    assert (await facade.enable_integration(T, d.id)).status == IntegrationStatus.ENABLED


async def test_lifecycle_transitions(facade: IntegrationsFacade) -> None:
    d = await make(facade)
    r = await facade.enable_integration(T, d.id)
    assert (r.integration_id, r.status) == (d.id, IntegrationStatus.ENABLED) and r.message
    assert (await facade.enable_integration(T, d.id)).status == IntegrationStatus.ENABLED
    assert (await facade.disable_integration(T, d.id)).status == IntegrationStatus.DISABLED
    assert (await facade.enable_integration(T, d.id)).status == IntegrationStatus.ENABLED
    fresh = await make(facade, "fresh")
    assert (await facade.disable_integration(T, fresh.id)).status == IntegrationStatus.DISABLED
    assert (await facade.get_integration(T, fresh.id)).status == IntegrationStatus.DISABLED


async def test_disable_from_error(facade: IntegrationsFacade) -> None:
    d = await make(facade)
    _credential_unusable(facade, d.id, "m")
    assert (await facade.disable_integration(T, d.id)).status == IntegrationStatus.DISABLED


async def test_delete(facade: IntegrationsFacade) -> None:
    d = await make(facade, "gone")
    r = await facade.delete_integration(T, d.id)
    assert (r.deleted, r.integration_id) == (True, d.id)
    assert await facade.get_integration(T, d.id) is None
    assert (await facade.list_integrations(T)).total == 0
    assert (await facade.delete_integration(T, d.id)).deleted is False
    again = await make(facade, "GONE")  # the name is free
    assert again.id != d.id
    raw = facade.db_path.read_text()
    assert d.id not in raw  # the sealed secret went with the document


async def test_health_status_is_stored_state(facade: IntegrationsFacade) -> None:
    d = await make(facade)
    s = await facade.get_health_status(T, d.id)
    assert (s.integration_id, s.health_state, s.health_message, s.health_checked_at) == (
        d.id,
        HealthState.UNKNOWN,
        None,
        None,
    )
    facade.context.repo.apply_health(
        T,
        d.id,
        state=HealthState.HEALTHY,
        reason="ok",
        message="fine",
        latency_ms=12,
        checked_at="2026-01-02T03:04:05.000006+00:00",
    )
    s = await facade.get_health_status(T, d.id)
    assert s.health_state == HealthState.HEALTHY and s.health_message == "fine"
    assert s.health_checked_at == datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)


async def test_singleton_uses_byok_db(tmp_path, monkeypatch) -> None:
    import core.facade as fmod

    monkeypatch.setattr(fmod, "_facade_instance", None)
    monkeypatch.setenv("BYOK_DB", str(tmp_path / "x" / "env.json"))
    f = fmod.get_integrations_facade()
    assert f is fmod.get_integrations_facade()
    assert f.db_path == tmp_path / "x" / "env.json" and f.db_path.exists()
    monkeypatch.setattr(fmod, "_facade_instance", None)


async def test_default_path_is_user_data_dir(monkeypatch, isolated_env) -> None:
    from core.paths import default_db_path

    assert default_db_path() == isolated_env / "data" / "byok" / "byok.json"


async def test_create_many_is_all_or_nothing(facade: IntegrationsFacade) -> None:
    made = await facade.create_integrations(
        T, [{"name": f"bulk-{i}", "provider_type": "ollama"} for i in range(5)]
    )
    assert [d.name for d in made] == [f"bulk-{i}" for i in range(5)]
    before = facade.db_path.read_bytes()
    with pytest.raises(ValidationError) as e:
        await facade.create_integrations(
            T,
            [
                {"name": "ok", "provider_type": "ollama"},
                {"name": "", "provider_type": "x"},
                {"name": "z", "provider_type": "ollama", "colour": 1},
            ],
        )
    assert {"items[1].name", "items[1].provider_type", "items[2].fields"} <= set(e.value.errors)
    with pytest.raises(DuplicateNameError):
        await facade.create_integrations(
            T,
            [
                {"name": "new", "provider_type": "ollama"},
                {"name": "BULK-3", "provider_type": "ollama"},
            ],
        )
    with pytest.raises(DuplicateNameError):
        await facade.create_integrations(
            T,
            [
                {"name": "twin", "provider_type": "ollama"},
                {"name": "Twin", "provider_type": "ollama"},
            ],
        )
    assert facade.db_path.read_bytes() == before


async def test_provider_settings_validated(facade: IntegrationsFacade) -> None:
    az = await facade.create_integration(
        T,
        name="az",
        provider_type="azure_openai",
        credential=KEY,
        config={"base_url": "https://res.openai.azure.com/", "api_version": "2024-10-21"},
    )
    assert az.config == {"base_url": "https://res.openai.azure.com", "api_version": "2024-10-21"}
    br = await facade.create_integration(
        T, name="br", provider_type="bedrock", credential=KEY, config={"region": "eu-west-1"}
    )
    assert br.config == {"region": "eu-west-1"}
    for bad in ({"region": "mars"}, {"api_version": "a b"}, {"Bad-Key": 1}, {"x": [1, 2]}, "str"):
        with pytest.raises(ValidationError) as e:
            await facade.create_integration(
                T, name="bad", provider_type="bedrock", credential=KEY, config=bad
            )
        assert any(k.startswith("config") for k in e.value.errors)


async def test_model_and_name_text_rules(facade: IntegrationsFacade) -> None:
    with pytest.raises(ValidationError) as e:
        await make(facade, "m", default_model="x" * 201)
    assert "default_model" in e.value.errors
    with pytest.raises(ValidationError) as e:
        await make(facade, "bell\x07name")
    assert "name" in e.value.errors
    blank = await make(facade, "blank-model", default_model="   ")
    assert blank.default_model is None


async def test_new_endpoint_resets_health(facade: IntegrationsFacade) -> None:
    d = await facade.create_integration(
        T, name="c", provider_type="custom", config={"base_url": "http://127.0.0.1:9/v1"}
    )
    facade.context.repo.apply_health(
        T,
        d.id,
        state=HealthState.HEALTHY,
        reason="ok",
        message=None,
        latency_ms=5,
        checked_at="2026-01-01T00:00:00.000000+00:00",
    )
    same = await facade.update_integration(T, d.id, config={"base_url": "http://127.0.0.1:9/v1"})
    assert same.health_state == HealthState.HEALTHY  # nothing changed, nothing reset
    moved = await facade.update_integration(T, d.id, config={"base_url": "http://127.0.0.1:10/v1"})
    assert moved.health_state == HealthState.UNKNOWN
    with pytest.raises(ValidationError):  # custom still needs its base_url
        await facade.update_integration(T, d.id, config={})
