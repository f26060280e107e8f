"""check_limits: each decision with its reasons, estimates added first, precedence
blocked > throttled > warned > allowed, and retry_after_s from the rolling window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.clock import Clock

from core import Decision, HealthState, IntegrationsFacade, ValidationError

T = "acme"
T0 = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)



@pytest.fixture
async def clocked(db_path: Path):  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    f = IntegrationsFacade(db_path, clock=clock)
    yield f, clock
    await f.aclose()


async def _make(f: IntegrationsFacade, **limits: int) -> str:
    d = await f.create_integration(T, name="x", provider_type="ollama", **limits)
    await f.enable_integration(T, d.id)
    return d.id


async def _use(f: IntegrationsFacade, iid: str, tokens: int = 0, cents: float = 0, **kw) -> None:  # type: ignore[no-untyped-def]
    r = await f.record_usage(T, iid, model="m", input_tokens=tokens, output_tokens=0,
                             cost_cents=cents, **kw)
    assert r is not None and r.accepted


async def test_allowed_without_limits(clocked) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    iid = await _make(f)
    await _use(f, iid, tokens=10**9, cents=10**6)
    d = await f.check_limits(T, iid, estimated_tokens=10**9, estimated_cost_cents=10**6)
    assert d is not None
    assert d.decision == Decision.ALLOWED and d.reasons == [] and d.retry_after_s is None


# (spent, the estimate that reaches the threshold, the decision there, the decision just
# below it, what the reason names)
BUDGET_EDGES = [
    pytest.param(
        700, 100, Decision.WARNED, Decision.ALLOWED,
        ["budget_limit_cents", "limit 1000 cents", "used 700", "estimate 100", "800 cents",
         "(80.0%)"],
        id="warned-at-80-percent-including-the-estimate",
    ),
    pytest.param(
        950.5, 49.5, Decision.BLOCKED, Decision.WARNED,
        ["limit 1000 cents", "used 950.5", "= 1000 cents"],
        id="blocked-when-reached-with-the-estimate",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spent", "estimate", "at", "below", "needles"), BUDGET_EDGES)
async def test_budget_thresholds_count_the_estimate(  # type: ignore[no-untyped-def]
    clocked, spent: float, estimate: float, at: Decision, below: Decision, needles: list[str]
) -> None:
    f, _ = clocked
    iid = await _make(f, budget_limit_cents=1000)
    await _use(f, iid, cents=spent)
    under = await f.check_limits(T, iid, estimated_cost_cents=estimate - 0.01)
    assert under is not None and under.decision == below
    d = await f.check_limits(T, iid, estimated_cost_cents=estimate)
    assert d is not None and d.decision == at
    [reason] = d.reasons
    for needle in needles:
        assert needle in reason, (needle, reason)


async def test_blocked_and_warned_by_the_token_limit(clocked) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    iid = await _make(f, token_limit_month=1000)
    await _use(f, iid, tokens=799)
    assert (await f.check_limits(T, iid)).decision == Decision.ALLOWED  # type: ignore[union-attr]
    d = await f.check_limits(T, iid, estimated_tokens=1)
    assert d is not None and d.decision == Decision.WARNED
    assert "token_limit_month" in d.reasons[0] and "limit 1000 tokens" in d.reasons[0]
    d = await f.check_limits(T, iid, estimated_tokens=201)
    assert d is not None and d.decision == Decision.BLOCKED
    assert "used 799 + estimate 201 = 1000 tokens" in d.reasons[0]


async def test_both_limits_reached_give_two_reasons(clocked) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    iid = await _make(f, budget_limit_cents=10, token_limit_month=10)
    await _use(f, iid, tokens=10, cents=10)
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.BLOCKED and len(d.reasons) == 2


async def test_blocked_when_disabled_error_or_failing(clocked) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    iid = await _make(f)
    await f.disable_integration(T, iid)
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.BLOCKED
    assert d.reasons == ["status: the integration is disabled"]
    await f.enable_integration(T, iid)
    repo = f.context.repo
    await asyncio.to_thread(
        repo.apply_health, T, iid, state=HealthState.FAILING, reason="invalid_key",
        message="401 from provider", latency_ms=5, checked_at="2026-04-10T09:00:00.000000+00:00",
    )
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.BLOCKED
    assert d.reasons == ["health: failing (invalid_key)"]
    await asyncio.to_thread(
        repo.apply_health, T, iid, state=HealthState.FAILING, reason="credential_error",
        message="OPENAI_API_KEY is not set", latency_ms=None,
        checked_at="2026-04-10T09:00:01.000000+00:00", credential_unusable=True,
    )
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.BLOCKED
    assert d.reasons[0] == "status: the integration is in error (its credential is unusable)"
    assert len(d.reasons) == 2


async def test_created_status_is_not_blocked(clocked) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    d = await f.create_integration(T, name="new", provider_type="ollama")
    decision = await f.check_limits(T, d.id)
    assert decision is not None and decision.decision == Decision.ALLOWED


async def test_throttled_with_retry_after_until_a_slot_frees(clocked) -> None:  # type: ignore[no-untyped-def]
    f, clock = clocked
    iid = await _make(f, rate_limit_rpm=3, budget_limit_cents=100)
    for second in (0, 10, 25, 40):
        clock.now = T0 + timedelta(seconds=second)
        await _use(f, iid, cents=0)
    clock.now = T0 + timedelta(seconds=45)
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.THROTTLED
    assert d.reasons == [
        "rate_limit_rpm reached: limit 3 requests per minute, 4 requests in the last 60 s"
    ]
    # 4 requests, limit 3: two must leave; the second (t=10) leaves at t=70 -> 25 s from t=45
    assert d.retry_after_s == pytest.approx(25.0)
    clock.now = T0 + timedelta(seconds=60)  # t=0 left; 3 in window, still at the limit
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.THROTTLED
    assert d.retry_after_s == pytest.approx(10.0)
    clock.now = T0 + timedelta(seconds=70)
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.ALLOWED


async def test_precedence_blocked_over_throttled_over_warned(clocked) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    iid = await _make(f, rate_limit_rpm=1, budget_limit_cents=100)
    await _use(f, iid, cents=85)  # warned level, and the one request fills the rpm
    d = await f.check_limits(T, iid)
    assert d is not None and d.decision == Decision.THROTTLED
    d = await f.check_limits(T, iid, estimated_cost_cents=15)
    assert d is not None and d.decision == Decision.BLOCKED
    assert d.retry_after_s is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"estimated_tokens": -1}, "estimated_tokens"),
        ({"estimated_tokens": 1.5}, "estimated_tokens"),
        ({"estimated_tokens": True}, "estimated_tokens"),
        ({"estimated_cost_cents": -2}, "estimated_cost_cents"),
        ({"estimated_cost_cents": float("nan")}, "estimated_cost_cents"),
        ({"estimated_cost_cents": "x"}, "estimated_cost_cents"),
    ],
)
async def test_bad_estimates_are_validation_errors(clocked, kwargs, field) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    iid = await _make(f)
    with pytest.raises(ValidationError) as err:
        await f.check_limits(T, iid, **kwargs)
    assert field in err.value.errors


async def test_unknown_integration_is_none(clocked) -> None:  # type: ignore[no-untyped-def]
    f, _ = clocked
    assert await f.check_limits(T, "missing") is None
