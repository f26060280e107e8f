"""core/validation.py, the one home of input checks: each check that moved there from the services
(usage, health, the importer) keeps its field names, ranges and exactness, and the same kind of
input has the same range wherever the facade takes it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from pathlib import Path

import pytest

from core import IntegrationsFacade, ValidationError
from core import validation as v
from core.timeutil import US_PER_S, to_us

T = "acme"
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _refused(fn, *args: object) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as err:
        fn(*args)
    return err.value.errors


class Two(IntEnum):
    TWO = 2


def test_count_tokens_and_limits() -> None:
    assert v.count(0, "input_tokens") == 0 and v.count(v.MAX_LIMIT, "input_tokens") == v.MAX_LIMIT
    out = v.count(Two.TWO, "input_tokens")
    assert out == 2 and type(out) is int
    for bad, message in ((-1, "cannot be negative"), (v.MAX_LIMIT + 1, "at most"),
                         (True, "whole number"), (1.0, "whole number"), ("3", "whole number")):
        assert message in _refused(v.count, bad, "output_tokens")["output_tokens"]
    assert _refused(v.limit, "rate_limit_rpm", -1) == {
        "rate_limit_rpm": "cannot be negative (0 means unlimited)"
    }


def test_cents_are_exact_nano_cents_rounded_half_up() -> None:
    assert v.cents(3) == 3 * 10**9
    assert v.cents(0.1) == 100_000_000  # the decimal 0.1 prints as, not the binary float
    assert v.cents(Decimal("0.0000000005")) == 1  # half a nano-cent rounds up
    assert v.cents(v.MAX_LIMIT) == v.MAX_LIMIT * 10**9
    for bad in (-1, -0.5, math.nan, math.inf, True, "1", None, v.MAX_LIMIT + 1, Decimal("NaN")):
        assert list(_refused(v.cents, bad)) == ["cost_cents"]
    assert list(_refused(v.cents, -1, "estimated_cost_cents")) == ["estimated_cost_cents"]


def test_estimates_name_both_fields_at_once() -> None:
    assert v.estimates(5, 0.5) == (5, 500_000_000)
    assert set(_refused(v.estimates, -1, "x")) == {"estimated_tokens", "estimated_cost_cents"}


def test_model_and_call_id_text() -> None:
    assert v.usage_model("  gpt-4o  ") == "gpt-4o"
    for bad in ("", "   ", None, 5, "x" * (v.MAX_MODEL + 1), "gpt\n4"):
        assert list(_refused(v.usage_model, bad)) == ["model"]
    assert v.call_id(None) is None and v.call_id(" c-1 ") == "c-1"
    for bad in ("", 7, "x" * (v.MAX_CALL_ID + 1), "a\x00b"):
        assert list(_refused(v.call_id, bad)) == ["call_id"]
    # an integration's default model is optional: blank clears it
    assert v.model(None) is None and v.model("  ") is None and v.model(" m ") == "m"
    assert list(_refused(v.model, "m" * (v.MAX_MODEL + 1))) == ["default_model"]


def test_time_us_from_every_accepted_form() -> None:
    want = to_us(NOW)
    assert v.time_us(NOW) == want
    assert v.time_us(NOW.astimezone(timezone(timedelta(hours=2)))) == want
    assert v.time_us("2026-05-01T12:00:00Z") == want
    assert v.time_us(NOW.timestamp()) == want and v.time_us(int(NOW.timestamp())) == want
    assert v.time_us(0.5) == US_PER_S // 2
    for bad in (NOW.replace(tzinfo=None), "2026-05-01T12:00:00", "last tuesday", -1, math.inf,
                v.LAST_UNIX_S, True, None, [2026]):
        assert list(_refused(v.time_us, bad)) == ["at"]
    assert list(_refused(v.time_us, "soon", "timestamp")) == ["timestamp"]


def test_time_us_refuses_a_time_outside_the_years_1_to_9999_utc() -> None:
    """An offset can push a time out of what a datetime holds (0001-01-01T00:00+01:00 is in the
    year 0 UTC): a ValidationError, never an OverflowError later when the month is computed."""
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    late = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1)))
    for bad in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", early, late):
        assert "between the years 1 and 9999" in _refused(v.time_us, bad)["at"]
    assert v.time_us("0001-01-01T00:00:00+00:00") == to_us(datetime(1, 1, 1, tzinfo=UTC))


async def test_record_usage_with_an_extreme_timestamp_is_a_validation_error(
    db_path: Path,
) -> None:
    facade = IntegrationsFacade(db_path, durable=False)
    try:
        made = await facade.create_integration(T, name="o", provider_type="ollama")
        for at in ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+00:30"):
            with pytest.raises(ValidationError) as err:
                await facade.record_usage(T, made.id, model="m", input_tokens=1,
                                          output_tokens=1, at=at)  # fmt: skip
            assert list(err.value.errors) == ["at"]
    finally:
        await facade.aclose()


def test_integration_ids_refuse_a_lone_string_and_drop_repeats() -> None:
    assert v.integration_ids(["b", "a", "b"]) == ["b", "a"]
    assert v.integration_ids(iter(("x",))) == ["x"]
    for bad in ("abc", b"abc", 5, None):
        assert list(_refused(v.integration_ids, bad)) == ["integration_ids"]
    assert list(_refused(v.integration_ids, ["ok", ""])) == ["integration_id"]


def test_number_checks_of_options_and_arguments() -> None:
    assert v.positive(2, "probe_timeout_s") == 2.0
    assert v.seconds(0, "stale_after_s") == 0.0
    assert v.at_least_one(1, "concurrency") == 1
    assert v.flag(False, "durable") is False
    for fn, bad in ((v.positive, 0), (v.positive, math.nan), (v.seconds, -1),
                    (v.seconds, math.inf), (v.at_least_one, 0), (v.at_least_one, 2.0),
                    (v.flag, 1)):
        assert list(_refused(fn, bad, "f")) == ["f"]


def test_known_names_the_unknown_and_the_allowed() -> None:
    v.known({"a": 1}, {"a", "b"}, "fields", "field")
    message = _refused(v.known, {"c": 1, "a": 2}, {"a", "b"}, "fields", "field")["fields"]
    assert message == "unknown field(s) c; allowed: a, b"


def test_usage_input_and_batch() -> None:
    now = to_us(NOW)
    rec = v.UsageInput("i1", {"model": "m", "input_tokens": 10, "output_tokens": 2,
                              "cache_read_tokens": 4, "cost_cents": 0.5}, now)
    assert (rec.iid, rec.model, rec.inp, rec.out, rec.cache_read) == ("i1", "m", 10, 2, 4)
    assert (rec.cost_nc, rec.call_id, rec.at_us) == (500_000_000, None, now)
    errors = _refused(v.UsageInput, "i1", {"input_tokens": -1, "cost_cents": "x"}, now)
    assert set(errors) == {"model", "input_tokens", "output_tokens", "cost_cents"}
    too_much_cache = {"model": "m", "input_tokens": 1, "output_tokens": 0, "cache_read_tokens": 2}
    assert list(_refused(v.UsageInput, "i1", too_much_cache, now)) == ["cache_read_tokens"]
    future = {"model": "m", "input_tokens": 1, "output_tokens": 0,
              "at": NOW + timedelta(minutes=5, seconds=1)}
    assert list(_refused(v.UsageInput, "i1", future, now)) == ["at"]
    fine = {"model": "m", "input_tokens": 1, "output_tokens": 0, "integration_id": "i1"}
    assert len(v.usage_batch([fine, fine], now)) == 2
    errors = _refused(v.usage_batch, [fine, {**fine, "colour": "red"}, 5], now)
    assert list(errors) == ["records[1]", "records[2]"] and "colour" in errors["records[1]"]
    for bad in ("records", {"a": 1}, None):
        assert list(_refused(v.usage_batch, bad, now)) == ["records"]
    assert "at most" in _refused(v.usage_batch, [fine] * (v.MAX_BATCH + 1), now)["records"]


async def test_the_read_limits_agree_with_the_documented_ranges(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    # a page of integrations or alerts: 1..MAX_PAGE; the health log: 1..MAX_LOG_READ
    for call, most in ((lambda n: f.list_integrations(T, limit=n), v.MAX_PAGE),
                       (lambda n: f.get_alerts(T, limit=n), v.MAX_PAGE),
                       (lambda n: f.get_health_log(T, limit=n), v.MAX_LOG_READ)):
        await call(1)
        await call(most)
        for bad in (0, most + 1, True, "5"):
            with pytest.raises(ValidationError) as err:
                await call(bad)
            assert err.value.errors == {"limit": f"must be a whole number from 1 to {most}"}
    await f.aclose()


async def test_unknown_probe_options_are_validation_errors(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    d = await f.create_integration(T, name="x", provider_type="ollama")
    with pytest.raises(ValidationError) as err:
        await f.test_credentials(T, d.id, deeep=True)
    assert list(err.value.errors) == ["options"]
    with pytest.raises(ValidationError) as err:
        f.check_many(T, concurency=3)
    assert list(err.value.errors) == ["options"] and "concurrency" in str(err.value)
    for kwargs, field in (({"stale_after_s": math.inf}, "stale_after_s"),
                          ({"concurrency": 2.0}, "concurrency"),
                          ({"integration_ids": d.id}, "integration_ids")):
        with pytest.raises(ValidationError) as err:
            async for _ in f.check_many(T, **kwargs):
                pass
        assert list(err.value.errors) == [field]
    await f.aclose()


async def test_an_extreme_staleness_probes_only_the_never_checked(
    db_path: Path, fake_server
) -> None:  # type: ignore[no-untyped-def]
    """stale_after_s reaching before the year 1 is no OverflowError: nothing checked is stale."""
    facade = IntegrationsFacade(db_path, durable=False)
    try:
        base = {"config": {"base_url": fake_server.base_url_for("ollama")}}
        checked = await facade.create_integration(T, name="a", provider_type="ollama", **base)
        await facade.test_credentials(T, checked.id)
        for i, stale in enumerate((1e20, 10**30, 1e300)):
            never = await facade.create_integration(
                T, name=f"b{i}", provider_type="ollama", **base
            )
            seen = [r.integration_id async for r in facade.check_many(
                T, stale_after_s=stale, include_disabled=True)]  # fmt: skip
            assert seen == [never.id]
    finally:
        await facade.aclose()
