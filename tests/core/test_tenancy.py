"""Nothing of one tenant is visible to, or changeable by, another; tenant ids are validated."""

from __future__ import annotations

import pytest
from support.facade import crud_calls

from core import IntegrationsFacade, ValidationError

KEY = "sk-test-tenancy-0123456789abcdefghijklmnop"


@pytest.fixture
async def owned(facade: IntegrationsFacade):
    return await facade.create_integration(
        "alpha", name="shared-name", provider_type="openai", credential=KEY
    )


async def test_other_tenant_sees_nothing(facade: IntegrationsFacade, owned) -> None:
    assert (await facade.list_integrations("beta")).total == 0
    assert (await facade.list_integrations("beta", search="shared")).items == []
    assert await facade.get_integration("beta", owned.id) is None
    assert await facade.get_health_status("beta", owned.id) is None


async def test_other_tenant_changes_nothing(facade: IntegrationsFacade, owned) -> None:
    before = facade.db_path.read_bytes()
    assert await facade.update_integration("beta", owned.id, name="stolen") is None
    assert await facade.enable_integration("beta", owned.id) is None
    assert await facade.disable_integration("beta", owned.id) is None
    assert (await facade.delete_integration("beta", owned.id)).deleted is False
    assert facade.db_path.read_bytes() == before
    assert await facade.get_integration("alpha", owned.id) == owned


async def test_same_name_in_two_tenants(facade: IntegrationsFacade, owned) -> None:
    b = await facade.create_integration("beta", name="SHARED-NAME", provider_type="ollama")
    assert {i.id for i in (await facade.list_integrations("alpha")).items} == {owned.id}
    assert {i.id for i in (await facade.list_integrations("beta")).items} == {b.id}


async def test_tenant_names_are_case_sensitive_ids(facade: IntegrationsFacade, owned) -> None:
    assert (await facade.list_integrations("ALPHA")).total == 0


async def test_ciphertext_is_bound_to_tenant_and_integration(
    facade: IntegrationsFacade, owned
) -> None:
    """A sealed secret copied onto another tenant's integration does not decrypt."""
    from core import CredentialError

    repo = facade.context.repo
    other = await facade.create_integration(
        "beta", name="x", provider_type="openai", credential=KEY + "x"
    )
    stolen = dict(repo.get("beta", other.id))
    stolen["credential"] = repo.get("alpha", owned.id)["credential"]
    with pytest.raises(CredentialError) as e:
        repo.secret(stolen)
    assert KEY not in str(e.value)
    assert repo.secret(repo.get("alpha", owned.id)) == KEY


@pytest.mark.parametrize(
    "tenant",
    ["", "-lead", ".dot", "_u", "has space", "x" * 101, "tab\t", "ünï", "a/b", None, 5, b"bytes"],
)
async def test_bad_tenant_ids(facade: IntegrationsFacade, tenant) -> None:
    calls = [
        *crud_calls(facade, tenant, "id"),
        facade.disable_integration(tenant, "id"),
        facade.get_health_status(tenant, "id"),
        facade.test_credentials(tenant, "id"),
        facade.get_limits_status(tenant, "id"),
        facade.check_limits(tenant, "id"),
        facade.record_usage(tenant, "id", model="m", input_tokens=1, output_tokens=1),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as e:
            await call
        assert "tenant_id" in e.value.errors


@pytest.mark.parametrize("tenant", ["a", "A1", "team.prod-eu_1", "9" * 100])
async def test_good_tenant_ids(facade: IntegrationsFacade, tenant) -> None:
    d = await facade.create_integration(tenant, name="n", provider_type="ollama")
    assert (await facade.get_integration(tenant, d.id)).tenant_id == tenant


async def test_health_and_usage_methods_are_tenant_scoped(
    facade: IntegrationsFacade, owned
) -> None:
    await facade.record_usage(
        "alpha",
        owned.id,
        model="gpt-4o",
        input_tokens=10,
        output_tokens=5,
        cost_cents=1.5,
        call_id="c1",
    )
    before = facade.db_path.read_bytes()
    assert await facade.test_credentials("beta", owned.id) is None
    assert await facade.get_limits_status("beta", owned.id) is None
    assert await facade.check_limits("beta", owned.id) is None
    assert (
        await facade.record_usage("beta", owned.id, model="m", input_tokens=1, output_tokens=1)
        is None
    )
    assert await facade.get_health_log("beta", owned.id) == []
    assert await facade.get_alerts("beta") == []
    assert [r async for r in facade.check_many("beta", include_disabled=True)] == []
    assert facade.db_path.read_bytes() == before
    mine = await facade.get_limits_status("alpha", owned.id)
    assert mine is not None and mine.tokens_used_month == 15 and mine.requests_month == 1
