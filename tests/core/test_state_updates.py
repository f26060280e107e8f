"""Issue 12, items 9 and 10, in the core: updates merge under the lock and check what the caller
saw; a probe's outcome applies only to the credential and endpoint it tested; status `error`
comes from a probe that could not read the credential and goes with one that could."""

from __future__ import annotations

import pytest
from support.facade import OpenFacade
from support.providers import make

from core import (
    HealthState,
    IntegrationsFacade,
    IntegrationStatus,
    InvalidTransitionError,
    ValidationError,
)
from core.integrations.repository import probe_basis
from tui.demo.fakeprovider import FakeProviderServer

T = "t1"
AT = "2026-01-01T00:00:00.000000+00:00"


async def azure(facade: IntegrationsFacade, name: str = "az") -> str:
    d = await facade.create_integration(
        T, name=name, provider_type="azure_openai", credential="env:AZ_KEY",
        config={"base_url": "https://a.openai.azure.com", "api_version": "2024-10-21"},
    )  # fmt: skip
    return d.id


def unusable(facade: IntegrationsFacade, iid: str, message: str = "MY_KEY is not set") -> None:
    facade.context.repo.apply_health(
        T, iid, state=HealthState.FAILING, reason="credential_error", message=message,
        latency_ms=None, checked_at=AT, credential_unusable=True,
    )  # fmt: skip


def reached(facade: IntegrationsFacade, iid: str, **extra: object) -> object:
    return facade.context.repo.apply_health(
        T, iid, state=HealthState.HEALTHY, reason="ok", message="OpenAI accepted the key",
        latency_ms=5, checked_at=AT, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


# -- config_patch ----------------------------------------------------------------------------------


async def test_config_patch_merges_with_what_is_stored_now(open_facade: OpenFacade) -> None:
    one, other = open_facade(), open_facade()  # two processes' views of one file
    iid = await azure(one)
    await other.update_integration(T, iid, config_patch={"api_version": "2025-01-01"})
    # `one` never read the new api_version: its patch is merged with it under the lock
    patch = {"base_url": "https://b.openai.azure.com"}
    done = await one.update_integration(T, iid, config_patch=patch)
    assert done is not None
    assert done.config == {"base_url": "https://b.openai.azure.com", "api_version": "2025-01-01"}
    removed = await one.update_integration(T, iid, config_patch={"api_version": None})
    assert removed is not None and removed.config == {"base_url": "https://b.openai.azure.com"}


async def test_config_patch_is_checked_as_merged(facade: IntegrationsFacade) -> None:
    iid = await azure(facade)
    with pytest.raises(ValidationError) as e:  # azure_openai needs its base_url
        await facade.update_integration(T, iid, config_patch={"base_url": None})
    assert "config.base_url" in e.value.errors
    with pytest.raises(ValidationError) as e:
        await facade.update_integration(T, iid, config_patch={"api_version": "no spaces"})
    assert "config.api_version" in e.value.errors
    with pytest.raises(ValidationError) as e:
        await facade.update_integration(T, iid, config={}, config_patch={})
    assert "config_patch" in e.value.errors
    with pytest.raises(ValidationError) as e:
        await facade.update_integration(T, iid, config_patch="base_url=x")
    assert "config_patch" in e.value.errors
    detail = await facade.get_integration(T, iid)
    assert detail is not None and detail.config["base_url"] == "https://a.openai.azure.com"


# -- expected: the optimistic check ----------------------------------------------------------------


async def test_a_field_changed_meanwhile_is_refused_and_nothing_is_saved(
    open_facade: OpenFacade,
) -> None:
    mine, theirs = open_facade(), open_facade()
    iid = await azure(mine)
    seen = await mine.get_integration(T, iid)
    assert seen is not None
    await theirs.update_integration(T, iid, name="theirs")
    with pytest.raises(ValidationError) as e:
        await mine.update_integration(
            T, iid, name="mine", rate_limit_rpm=5,
            expected={"name": seen.name, "rate_limit_rpm": seen.rate_limit_rpm},
        )  # fmt: skip
    assert set(e.value.errors) == {"name"}
    assert "someone else" in e.value.errors["name"] and "'theirs'" in e.value.errors["name"]
    now = await mine.get_integration(T, iid)
    assert now is not None and (now.name, now.rate_limit_rpm) == ("theirs", 0)  # nothing saved
    # another field than theirs goes through, and theirs is kept
    done = await mine.update_integration(T, iid, rate_limit_rpm=5, expected={"rate_limit_rpm": 0})
    assert done is not None and (done.name, done.rate_limit_rpm) == ("theirs", 5)


async def test_expected_settings_and_credential(open_facade: OpenFacade) -> None:
    mine, theirs = open_facade(), open_facade()
    iid = await azure(mine)
    seen = await mine.get_integration(T, iid)
    assert seen is not None
    await theirs.update_integration(
        T, iid, credential="env:OTHER_KEY", config_patch={"base_url": "https://t.openai.azure.com"}
    )
    with pytest.raises(ValidationError) as e:
        await mine.update_integration(
            T, iid, config_patch={"base_url": "https://m.openai.azure.com"},
            expected={"config.base_url": seen.config["base_url"]},
        )  # fmt: skip
    assert set(e.value.errors) == {"config.base_url"}
    with pytest.raises(ValidationError) as e:  # compared by its hint, never by the secret
        await mine.update_integration(
            T, iid, credential="env:MINE", expected={"credential": seen.credential_hint}
        )
    assert set(e.value.errors) == {"credential"}
    assert "env:OTHER_KEY" in e.value.errors["credential"]
    # the same value as theirs is no conflict: nothing of theirs is overwritten
    same = await mine.update_integration(
        T, iid, config_patch={"base_url": "https://t.openai.azure.com", "api_version": None},
        expected={"config.base_url": seen.config["base_url"], "config.api_version": "2024-10-21"},
    )  # fmt: skip
    assert same is not None and same.config == {"base_url": "https://t.openai.azure.com"}
    with pytest.raises(ValidationError) as e:
        await mine.update_integration(T, iid, name="x", expected={"colour": "red"})
    assert "expected" in e.value.errors


# -- probes apply to the credential they tested ----------------------------------------------------


async def test_an_outcome_for_a_replaced_credential_is_not_applied(
    facade: IntegrationsFacade,
) -> None:
    iid = await azure(facade)
    repo = facade.context.repo
    probed = repo.get(T, iid)
    assert probed is not None
    await facade.update_integration(T, iid, credential="env:ROTATED")
    stale = repo.apply_health(
        T, iid, state=HealthState.FAILING, reason="invalid_key", message="401", latency_ms=3,
        checked_at=AT, basis=probe_basis(probed),
    )  # fmt: skip
    assert stale is None
    detail = await facade.get_integration(T, iid)
    assert detail is not None and detail.health_state == HealthState.UNKNOWN
    current = repo.get(T, iid)
    assert current is not None
    assert reached(facade, iid, basis=probe_basis(current)) is not None
    detail = await facade.get_integration(T, iid)
    assert detail is not None and detail.health_state == HealthState.HEALTHY


async def test_no_model_list_for_an_integration_gone_or_rekeyed(
    facade: IntegrationsFacade,
) -> None:
    lists = facade._health.models
    iid = await azure(facade)
    assert lists.record(T, [(iid, ["gpt-4o"], None)], keep=lambda _i: False) == 0
    assert await facade.get_models(T, iid) == []
    path = lists.store.path
    assert not path.exists()
    await facade.delete_integration(T, iid)
    assert not path.exists()  # forgetting takes the lock, and creates nothing


# -- status error ----------------------------------------------------------------------------------


async def test_error_is_cleared_by_a_probe_that_had_the_credential(
    facade: IntegrationsFacade,
) -> None:
    iid = await azure(facade)
    await facade.enable_integration(T, iid)
    unusable(facade, iid)
    broken = await facade.get_integration(T, iid)
    assert broken is not None and broken.status == IntegrationStatus.ERROR
    unusable(facade, iid, "again")  # a second failure keeps the status it will return to
    reached(facade, iid)
    detail = await facade.get_integration(T, iid)
    assert detail is not None and detail.status == IntegrationStatus.ENABLED
    decision = await facade.check_limits(T, iid)
    assert decision is not None and decision.decision.value == "allowed", decision


async def test_refusal_to_enable_quotes_why_the_status_is_error(facade: IntegrationsFacade) -> None:
    iid = await azure(facade)
    unusable(facade, iid, "the environment variable MY_KEY is not set or is empty")
    # an edit of the endpoint resets the health (and its message); the error stays
    await facade.update_integration(T, iid, config_patch={"base_url": "https://z.openai.azure.com"})
    with pytest.raises(InvalidTransitionError) as e:
        await facade.enable_integration(T, iid)
    assert "MY_KEY is not set" in str(e.value)
    await facade.disable_integration(T, iid)
    reached(facade, iid)  # disabled stays disabled: the error it came from is gone
    detail = await facade.get_integration(T, iid)
    assert detail is not None and detail.status == IntegrationStatus.DISABLED
    raw = facade.context.repo.get(T, iid)
    assert raw is not None and raw.get("error_message") is None


async def test_check_many_probes_an_enabled_integration_in_error(
    open_facade: OpenFacade, fake_server: FakeProviderServer
) -> None:
    # the console's background probes (check_many's defaults) heal what a cron job broke
    cron = open_facade(environ={})
    console = open_facade(environ={"MY_KEY": "sk-test@ok@0123456789abcdef"})
    iid = await make(console, fake_server, "openai", "env:MY_KEY")
    idle = await make(console, fake_server, "openai", "env:MY_KEY", enable=False)
    assert [r.reason async for r in cron.check_many(T)] == ["credential_error"]
    await cron.test_credentials(T, idle)
    for broken in (iid, idle):
        detail = await console.get_integration(T, broken)
        assert detail is not None and detail.status == IntegrationStatus.ERROR
    healed = [r.integration_id async for r in console.check_many(T)]
    assert healed == [iid]  # the one in error that was enabled; not the one never enabled
    healthy = await console.get_integration(T, iid)
    assert healthy is not None and (healthy.status, healthy.health_state) == ("enabled", "healthy")
    decision = await console.check_limits(T, iid)
    assert decision is not None and decision.decision.value == "allowed"
