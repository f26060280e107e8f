"""Hypothesis: no input to any facade method crashes with anything but ValidationError, and a
rejected call changes nothing on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import DuplicateNameError, IntegrationsFacade, ValidationError

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=300),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)
texty = st.one_of(st.text(max_size=300), anything)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fz(tmp_path_factory) -> tuple[IntegrationsFacade, str]:
    f = IntegrationsFacade(tmp_path_factory.mktemp("fuzz") / "byok.json", durable=False)
    d = asyncio.run(f.create_integration("t", name="anchor", provider_type="ollama"))
    return f, d.id


def _run(coro):
    try:
        return asyncio.run(coro)
    except (ValidationError, DuplicateNameError):
        return "rejected"


@FUZZ
@given(
    name=texty,
    provider=texty,
    credential=texty,
    model=texty,
    config=anything,
    budget=anything,
    tokens=anything,
    rpm=anything,
)
def test_create_never_crashes(
    fz, name, provider, credential, model, config, budget, tokens, rpm
) -> None:
    f, _ = fz
    before = f.db_path.read_bytes()
    out = _run(
        f.create_integration(
            "t",
            name=name,
            provider_type=provider,
            credential=credential,
            default_model=model,
            config=config,
            budget_limit_cents=budget,
            token_limit_month=tokens,
            rate_limit_rpm=rpm,
        )
    )
    if out == "rejected":
        assert f.db_path.read_bytes() == before
    else:
        asyncio.run(f.delete_integration("t", out.id))


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "credential",
                "default_model",
                "config",
                "budget_limit_cents",
                "token_limit_month",
                "rate_limit_rpm",
                "provider_type",
                "bogus",
            ]
        ),
        anything,
        max_size=4,
    )
)
def test_update_never_crashes(fz, fields) -> None:
    f, iid = fz
    before = f.db_path.read_bytes()
    out = _run(f.update_integration("t", iid, **fields))
    if out == "rejected":
        assert f.db_path.read_bytes() == before
    else:
        asyncio.run(f.update_integration("t", iid, name="anchor"))


@FUZZ
@given(
    tenant=texty,
    iid=texty,
    status=anything,
    provider=anything,
    search=anything,
    offset=anything,
    limit=anything,
)
def test_reads_never_crash(fz, tenant, iid, status, provider, search, offset, limit) -> None:
    f, _ = fz
    _run(
        f.list_integrations(
            tenant, status=status, provider_type=provider, search=search, offset=offset, limit=limit
        )
    )
    _run(f.get_integration(tenant, iid))
    _run(f.get_health_status(tenant, iid))
    _run(f.enable_integration(tenant, iid))
    _run(f.disable_integration(tenant, iid))
    _run(f.delete_integration(tenant, iid))


def test_validation_error_carries_every_field(tmp_path: Path) -> None:
    f = IntegrationsFacade(tmp_path / "b.json")
    with pytest.raises(ValidationError) as e:
        asyncio.run(
            f.create_integration(
                "t",
                name="",
                provider_type="openai",
                credential="",
                budget_limit_cents=-1,
                token_limit_month="x",
                rate_limit_rpm=1.5,
                default_model=7,
            )
        )
    assert set(e.value.errors) >= {
        "name",
        "credential",
        "budget_limit_cents",
        "token_limit_month",
        "rate_limit_rpm",
        "default_model",
    }
    assert isinstance(e.value, ValueError)
