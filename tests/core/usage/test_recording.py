"""record_usage and record_usage_batch: exact sums, fractional cents, duplicates (also after
reopening), input checks that change nothing, tenancy and deleted integrations."""

from __future__ import annotations

import math
import os
import stat
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.clock import Clock

from core import BatchResult, IntegrationsFacade, ValidationError

T = "acme"



async def _openai(f: IntegrationsFacade, name: str = "oa", **limits: int) -> str:
    d = await f.create_integration(
        T, name=name, provider_type="openai", credential="sk-test-123456", **limits
    )
    return d.id


async def test_tokens_and_requests_sum_exactly(facade: IntegrationsFacade) -> None:
    iid = await _openai(facade)
    records = [
        {"integration_id": iid, "model": "m-unpriced", "input_tokens": i * 7, "output_tokens": i}
        for i in range(1, 2001)
    ]
    result = await facade.record_usage_batch(T, records)
    assert isinstance(result, BatchResult)
    assert result.accepted == 2000 and result.unpriced == 2000
    status = await facade.get_limits_status(T, iid)
    assert status is not None
    n = 2000 * 2001 // 2
    assert status.tokens_used_month == 7 * n + n
    assert status.requests_month == 2000
    assert status.unpriced_calls == 2000
    assert status.budget_used_cents == 0


@pytest.mark.parametrize(
    ("cost", "count", "cents"),
    [
        (0.05, 10, 1),  # 0.5 exactly -> 1 (half up); a float sum gives 0.49999999999999994 -> 0
        (0.15, 3, 0),  # 0.45 -> 0
        (0.1, 1000, 100),
        (0.333, 3, 1),  # 0.999 -> 1
        (0.001, 1500, 2),  # 1.5 -> 2
        (Decimal("0.0000000004"), 10, 0),  # below a nano-cent each: rounds to 0 per record
    ],
)
async def test_fractional_cents_add_up_exactly(
    facade: IntegrationsFacade, cost: float | Decimal, count: int, cents: int
) -> None:
    iid = await _openai(facade, budget_limit_cents=100_000)
    records = [
        {"integration_id": iid, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
         "cost_cents": cost}
        for _ in range(count)
    ]
    await facade.record_usage_batch(T, records)
    status = await facade.get_limits_status(T, iid)
    assert status is not None
    assert status.budget_used_cents == cents
    exact = Decimal(str(cost)) * count
    if Decimal(str(cost)) * 10**9 == int(Decimal(str(cost)) * 10**9):
        assert status.budget_percent == pytest.approx(float(exact / 100_000 * 100), rel=1e-12)


async def test_priced_fractions_accumulate_without_loss(facade: IntegrationsFacade) -> None:
    """gpt-4o-mini input is $0.15 / MTok = 0.000015 cents a token; 100,000 one-token calls are
    1.5 cents, reported as 2 (half up). Float accumulation would drift below 1.5."""
    iid = await _openai(facade, budget_limit_cents=3)
    records = [
        {"integration_id": iid, "model": "gpt-4o-mini", "input_tokens": 1, "output_tokens": 0}
        for _ in range(100_000)
    ]
    result = await facade.record_usage_batch(T, records)
    assert result.accepted == 100_000 and result.unpriced == 0
    assert result.cost_cents == 1.5
    status = await facade.get_limits_status(T, iid)
    assert status is not None
    assert status.budget_used_cents == 2
    assert status.budget_percent == 50.0


async def test_duplicate_call_id_counts_once_also_after_reopen(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    iid = await _openai(f)
    other = await _openai(f, "other")
    first = await f.record_usage(T, iid, model="gpt-4o", input_tokens=10, output_tokens=5,
                                 call_id="call-1")
    again = await f.record_usage(T, iid, model="gpt-4o", input_tokens=10, output_tokens=5,
                                 call_id="call-1")
    assert first is not None and first.accepted and not first.duplicate
    assert again is not None and again.duplicate and not again.accepted
    # the same call_id on another integration is another call
    elsewhere = await f.record_usage(T, other, model="gpt-4o", input_tokens=1, output_tokens=1,
                                     call_id="call-1")
    assert elsewhere is not None and elsewhere.accepted
    await f.aclose()

    g = IntegrationsFacade(db_path)
    after = await g.record_usage(T, iid, model="gpt-4o", input_tokens=10, output_tokens=5,
                                 call_id="call-1")
    assert after is not None and after.duplicate
    batch = await g.record_usage_batch(T, [
        {"integration_id": iid, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
         "call_id": "call-1"},
        {"integration_id": iid, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
         "call_id": "call-2"},
        {"integration_id": iid, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
         "call_id": "call-2"},
    ])
    assert (batch.accepted, batch.duplicates, batch.duplicate_indexes) == (1, 2, [0, 2])
    status = await g.get_limits_status(T, iid)
    assert status is not None and status.requests_month == 2
    assert status.tokens_used_month == 15 + 2
    await g.aclose()


async def test_duplicate_seen_by_a_second_open_facade_without_close(db_path: Path) -> None:
    """Two facades on one database at once (two processes in real life) share the dedupe set."""
    a = IntegrationsFacade(db_path)
    iid = await _openai(a)
    b = IntegrationsFacade(db_path)
    assert (await a.record_usage(T, iid, model="x", input_tokens=1, output_tokens=1,
                                 call_id="shared")).accepted  # type: ignore[union-attr]
    r = await b.record_usage(T, iid, model="x", input_tokens=1, output_tokens=1, call_id="shared")
    assert r is not None and r.duplicate
    sa, sb = await a.get_limits_status(T, iid), await b.get_limits_status(T, iid)
    assert sa is not None and sb is not None and sa.requests_month == sb.requests_month == 1
    await a.aclose()
    await b.aclose()


BAD_FIELDS = [
    ({"input_tokens": True}, "input_tokens"),
    ({"input_tokens": -1}, "input_tokens"),
    ({"input_tokens": 1.5}, "input_tokens"),
    ({"input_tokens": "10"}, "input_tokens"),
    ({"output_tokens": None}, "output_tokens"),
    ({"output_tokens": 10**16}, "output_tokens"),
    ({"model": ""}, "model"),
    ({"model": "a\nb"}, "model"),
    ({"model": 5}, "model"),
    ({"cost_cents": -0.01}, "cost_cents"),
    ({"cost_cents": math.nan}, "cost_cents"),
    ({"cost_cents": math.inf}, "cost_cents"),
    ({"cost_cents": True}, "cost_cents"),
    ({"cost_cents": "lots"}, "cost_cents"),
    ({"call_id": ""}, "call_id"),
    ({"call_id": "x" * 300}, "call_id"),
    ({"call_id": 7}, "call_id"),
    ({"at": datetime(2026, 1, 1)}, "at"),  # naive
    ({"at": "yesterday"}, "at"),
    ({"at": "2026-01-01T00:00:00"}, "at"),  # no offset
    ({"at": -5}, "at"),
    ({"cache_read_tokens": 11}, "cache_read_tokens"),  # more than input_tokens
]


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS)
async def test_bad_input_is_a_validation_error_and_stores_nothing(
    facade: IntegrationsFacade, change: dict[str, object], field: str
) -> None:
    iid = await _openai(facade)
    fields: dict[str, object] = {"model": "gpt-4o", "input_tokens": 10, "output_tokens": 5}
    fields.update(change)
    with pytest.raises(ValidationError) as err:
        await facade.record_usage(T, iid, **fields)  # type: ignore[arg-type]
    assert field in err.value.errors
    with pytest.raises(ValidationError) as err:
        await facade.record_usage_batch(T, [{"integration_id": iid, **fields}])
    assert f"records[0].{field}" in err.value.errors
    status = await facade.get_limits_status(T, iid)
    assert status is not None and status.requests_month == 0


async def test_at_in_the_future_is_refused_beyond_five_minutes(facade: IntegrationsFacade) -> None:
    iid = await _openai(facade)
    soon = datetime.now(UTC) + timedelta(minutes=4)
    ok = await facade.record_usage(T, iid, model="x", input_tokens=1, output_tokens=1, at=soon)
    assert ok is not None and ok.accepted
    with pytest.raises(ValidationError) as err:
        await facade.record_usage(T, iid, model="x", input_tokens=1, output_tokens=1,
                                  at=datetime.now(UTC) + timedelta(minutes=6))
    assert "at" in err.value.errors


async def test_a_bad_record_fails_the_whole_batch(facade: IntegrationsFacade) -> None:
    iid = await _openai(facade)
    good = {"integration_id": iid, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1}
    with pytest.raises(ValidationError) as err:
        await facade.record_usage_batch(T, [good, good, {**good, "input_tokens": -3}, good])
    assert list(err.value.errors) == ["records[2].input_tokens"]
    with pytest.raises(ValidationError) as err:
        await facade.record_usage_batch(T, [good, {**good, "colour": "red"}])
    assert "records[1]" in err.value.errors
    for bad in ("nope", {"a": 1}, [1, 2], None):
        with pytest.raises(ValidationError):
            await facade.record_usage_batch(T, bad)  # type: ignore[arg-type]
    status = await facade.get_limits_status(T, iid)
    assert status is not None and status.requests_month == 0


async def test_batch_reports_unknown_integrations_and_stores_the_rest(
    facade: IntegrationsFacade,
) -> None:
    iid = await _openai(facade)
    theirs = await facade.create_integration("other-tenant", name="x", provider_type="ollama")
    rows = [
        {"integration_id": iid, "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500},
        {"integration_id": "missing", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1},
        {"integration_id": theirs.id, "model": "m", "input_tokens": 1, "output_tokens": 1},
    ]
    result = await facade.record_usage_batch(T, rows)
    assert result.accepted == 1
    assert result.not_found == 2 and result.not_found_indexes == [1, 2]
    assert result.cost_cents == 0.75
    assert (await facade.get_limits_status("other-tenant", theirs.id)).requests_month == 0  # type: ignore[union-attr]
    assert await facade.record_usage_batch(T, []) == BatchResult(
        accepted=0, duplicates=0, not_found=0, unpriced=0, cost_cents=0.0
    )


async def test_unknown_other_tenant_and_deleted_integrations_are_not_found(
    facade: IntegrationsFacade,
) -> None:
    iid = await _openai(facade, budget_limit_cents=1)
    kw = {"model": "gpt-4o", "input_tokens": 2000, "output_tokens": 1000}  # 1.5 cents
    assert await facade.record_usage(T, "nope", **kw) is None  # type: ignore[arg-type]
    assert await facade.record_usage("intruder", iid, **kw) is None  # type: ignore[arg-type]
    assert await facade.get_limits_status("intruder", iid) is None
    assert await facade.check_limits("intruder", iid) is None
    assert await facade.record_usage(T, iid, **kw) is not None  # type: ignore[arg-type]
    assert await facade.get_alerts("intruder") == []
    assert len(await facade.get_alerts(T)) == 2  # 150% of 1 cent: the 80% and 100% alerts
    await facade.delete_integration(T, iid)
    assert await facade.record_usage(T, iid, **kw) is None  # type: ignore[arg-type]
    assert await facade.get_limits_status(T, iid) is None
    assert await facade.check_limits(T, iid) is None
    # its usage and alerts are kept (contract: usage history survives a delete)
    assert len(await facade.get_alerts(T, iid)) == 2


async def test_at_defaults_to_now_and_decides_the_period(db_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock)
    iid = await _openai(f)
    await f.record_usage(T, iid, model="x", input_tokens=5, output_tokens=5)
    await f.record_usage(T, iid, model="x", input_tokens=100, output_tokens=0,
                         at=datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC))
    await f.record_usage(T, iid, model="x", input_tokens=1, output_tokens=0,
                         at="2026-03-01T00:00:00Z")
    await f.record_usage(T, iid, model="x", input_tokens=1, output_tokens=0,
                         at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC).timestamp())
    status = await f.get_limits_status(T, iid)
    assert status is not None
    assert status.tokens_used_month == 12 and status.requests_month == 3
    assert status.requests_this_minute == 1  # only the one at "now"
    await f.aclose()


async def test_usage_files_are_private(facade: IntegrationsFacade, db_path: Path) -> None:
    iid = await _openai(facade)
    await facade.record_usage(T, iid, model="x", input_tokens=1, output_tokens=1)
    await facade.aclose()
    log_dir = db_path.with_name("byok.usage.d")
    assert stat.S_IMODE(os.stat(log_dir).st_mode) == 0o700
    files = [db_path.with_name("byok.usage.json"), *log_dir.iterdir()]
    assert len(files) >= 3
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**7),
            st.integers(min_value=0, max_value=10**7),
            st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_totals_equal_the_exact_sums_for_any_records(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, int, Decimal]]
) -> None:
    """Whatever the records, tokens sum exactly and the cost is the exact decimal sum rounded to
    a whole cent half up; the same after reopening."""
    import asyncio

    db = tmp_path_factory.mktemp("prop") / "byok.json"

    async def run() -> None:
        f = IntegrationsFacade(db, durable=False)
        d = await f.create_integration(T, name="p", provider_type="ollama")
        half = len(rows) // 2
        batch = [
            {"integration_id": d.id, "model": "m", "input_tokens": i, "output_tokens": o,
             "cost_cents": c}
            for i, o, c in rows[:half]
        ]
        await f.record_usage_batch(T, batch)
        for i, o, c in rows[half:]:
            await f.record_usage(T, d.id, model="m", input_tokens=i, output_tokens=o,
                                 cost_cents=float(c) if c == Decimal(repr(float(c))) else c)
        want_cost = int(sum((c for _, _, c in rows), Decimal(0)).to_integral_value(ROUND_HALF_UP))
        want_tokens = sum(i + o for i, o, _ in rows)
        for g in (f, IntegrationsFacade(db, durable=False)):
            s = await g.get_limits_status(T, d.id)
            assert s is not None
            assert s.budget_used_cents == want_cost
            assert s.tokens_used_month == want_tokens and s.requests_month == len(rows)
            await g.aclose()

    asyncio.run(run())


def test_bad_usage_options_are_refused(db_path: Path) -> None:
    for bad in (0, -1, 1.5, True, "7"):
        with pytest.raises(ValidationError) as err:
            IntegrationsFacade(db_path, usage_retention_days=bad)
        assert "usage_retention_days" in err.value.errors
