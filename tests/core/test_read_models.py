"""The console's light read models (core.readmodels) and the facade's pydantic results built from
them agree field for field, and the generated document readers read each field as declared."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from core.enums import HealthState, IntegrationStatus, ProviderType
from core.models import IntegrationDetailResult, IntegrationSummaryResult, LimitsStatusResult
from core.readmodels import DOC, LimitFigures, Row, row_values, to_row
from core.results import to_detail, to_summary

PAIRS = [(Row, IntegrationSummaryResult), (LimitFigures, LimitsStatusResult)]
DOC_ = {
    "id": "0" * 32,
    "tenant_id": "acme",
    "name": "prod",
    "provider_type": "anthropic",
    "status": "enabled",
    "health_state": "degraded",
    "default_model": None,
    "created_at": "2026-01-02T03:04:05.000006+00:00",
    "health_checked_at": "2026-01-03T00:00:00.000000+00:00",
    "health_latency_ms": 42,
    "budget_limit_cents": 500,
    "token_limit_month": 7,
    "rate_limit_rpm": 3,
    "credential": {"hint": "sk-…abcd", "source": "encrypted"},
    "config": {"base_url": "http://127.0.0.1:1"},
}


def _declared(dc: type) -> list[tuple[str, Any, Any, str | None]]:
    return [
        (f.name, f.type, None if f.default is dataclasses.MISSING else f.default,
         f.metadata.get(DOC))
        for f in dataclasses.fields(dc)
    ]


@pytest.mark.parametrize(("light", "model"), PAIRS, ids=["summary", "limits"])
def test_the_pydantic_model_has_the_dataclass_fields(light: type, model: Any) -> None:
    built = [
        (name, info.annotation, None if info.is_required() else info.default, info.description)
        for name, info in model.model_fields.items()
    ]
    assert built == _declared(light)
    assert all(info.is_required() == (f.default is dataclasses.MISSING) for f, info in
               zip(dataclasses.fields(light), model.model_fields.values(), strict=True))
    assert model.__doc__ and model.__name__ == model.__qualname__
    assert model.__module__ == "core.models"


@pytest.mark.parametrize(("light", "model"), PAIRS, ids=["summary", "limits"])
def test_light_models_are_frozen_slotted_values(light: type, model: Any) -> None:
    assert dataclasses.is_dataclass(light) and "__slots__" in light.__dict__
    assert light.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert light.__module__ == "core.readmodels"
    result = model.model_validate(_values_of(light))
    one, two = light(**_values_of(light)), light(**dict(result))
    assert one == two and hash(one) == hash(two) and len({one, two}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.budget_limit_cents = 1


def _values_of(light: type) -> dict[str, Any]:
    sample = {str: "x", int: 1, float: 1.5, datetime: datetime(2026, 1, 1, tzinfo=UTC),
              ProviderType: ProviderType.OPENAI, IntegrationStatus: IntegrationStatus.ENABLED,
              HealthState: HealthState.HEALTHY}
    out = {}
    for f in dataclasses.fields(light):
        kind = next(t for t in (getattr(f.type, "__args__", None) or (f.type,)) if t in sample)
        out[f.name] = sample[kind]
    return out


def test_to_row_reads_each_field_as_declared() -> None:
    assert to_row(DOC_) == Row(
        id="0" * 32,
        name="prod",
        provider_type=ProviderType.ANTHROPIC,
        status=IntegrationStatus.ENABLED,
        health_state=HealthState.DEGRADED,
        default_model=None,
        created_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        health_checked_at=datetime(2026, 1, 3, tzinfo=UTC),
        health_latency_ms=42,
        budget_limit_cents=500,
        token_limit_month=7,
        rate_limit_rpm=3,
    )
    row = to_row(DOC_)
    assert type(row.provider_type) is ProviderType and row.created_at.tzinfo is UTC
    assert row_values(DOC_) == {f.name: getattr(row, f.name) for f in dataclasses.fields(Row)}
    assert list(row_values(DOC_)) == [f.name for f in dataclasses.fields(Row)]


def test_fields_that_default_to_none_may_be_missing_the_others_may_not() -> None:
    bare = {k: v for k, v in DOC_.items() if k not in ("health_checked_at", "health_latency_ms")}
    row = to_row(bare)
    assert row.health_checked_at is None and row.health_latency_ms is None
    for key in ("id", "default_model", "created_at", "budget_limit_cents", "provider_type"):
        with pytest.raises(KeyError, match=key):
            to_row({k: v for k, v in DOC_.items() if k != key})
    with pytest.raises(KeyError):
        to_row({**DOC_, "provider_type": "no-such-provider"})


def test_summary_and_detail_hold_the_row_values() -> None:
    # to_detail passes the Row fields on: each must be a detail field, or pydantic drops it
    assert set(IntegrationSummaryResult.model_fields) <= set(IntegrationDetailResult.model_fields)
    row, summary, detail = to_row(DOC_), to_summary(DOC_), to_detail(DOC_)
    for name in IntegrationSummaryResult.model_fields:
        mine = getattr(row, name)
        assert getattr(summary, name) == mine and type(getattr(summary, name)) is type(mine)
        assert getattr(detail, name) == mine and type(getattr(detail, name)) is type(mine)
    assert detail.tenant_id == "acme" and detail.credential_hint == "sk-…abcd"
    assert detail.config == DOC_["config"] and detail.config is not DOC_["config"]
    assert detail.health_message is None and detail.updated_at is None
