"""The exposition: the cached per-integration rendering says what prometheus-client says of the
same samples, and re-renders only what changed."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.enums import Decision, HealthState, IntegrationStatus, ProviderType
from core.readmodels import LimitFigures, Row
from core.watch import metrics as m

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def sample(i: int, state: HealthState = HealthState.HEALTHY, used: int = 10) -> m.Sample:
    row = Row(
        id=f"id{i}", name=f'svc "{i}"\\n', provider_type=ProviderType.OPENAI,
        status=IntegrationStatus.ENABLED, health_state=state, default_model=None,
        created_at=T0, health_checked_at=T0 if state != HealthState.UNKNOWN else None,
        health_latency_ms=120 + i, budget_limit_cents=100,
    )  # fmt: skip
    figures = LimitFigures(
        integration_id=row.id, budget_limit_cents=100, budget_used_cents=used,
        budget_percent=float(used), token_limit_month=0, tokens_used_month=5 * used,
        token_percent=0.0, rate_limit_rpm=0, requests_this_minute=1, rate_percent=0.0,
        period_start=T0, period_end=T0,
    )  # fmt: skip
    return m.Sample("t1", row, figures, Decision.ALLOWED if used < 80 else Decision.WARNED)


def parsed(text: bytes) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_the_cached_rendering_is_prometheus_clients_own() -> None:
    samples = [sample(i) for i in range(5)] + [sample(9, HealthState.UNKNOWN)]
    renderer = m.IntegrationRenderer()
    first = renderer.render(samples)
    assert parsed(first) == parsed(generate_latest(m._Families(samples)))
    assert first.count(b"# TYPE byok_budget_used_cents gauge") == 1
    with mock.patch.object(m, "generate_latest", wraps=m.generate_latest) as calls:
        assert renderer.render(samples) == first  # nothing changed: nothing rendered
        assert calls.call_count == 0
        changed = [*samples[:2], sample(2, HealthState.FAILING, used=95), *samples[3:]]
        second = renderer.render(changed)
        assert calls.call_count == 1  # the one integration that changed
    assert parsed(second) == parsed(generate_latest(m._Families(changed)))
    gone = renderer.render(changed[1:])  # a deleted integration leaves the exposition
    assert b'integration="svc \\"0\\"\\\\n"' not in gone and b'svc \\"1\\"' in gone


def test_names_with_quotes_and_newlines_stay_one_label() -> None:
    text = m.IntegrationRenderer().render([sample(1)]).decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "byok_tokens_used"]
    assert family.samples[0].labels["integration"] == 'svc "1"\\n'
