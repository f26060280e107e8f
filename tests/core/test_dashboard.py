"""Dashboard, the console's pydantic-free read side: the same rows and limits figures as the
facade, validation included, and state shared with a facade in the same process."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.clock import Clock

from core import (
    Dashboard,
    IntegrationsFacade,
    LimitFigures,
    LimitsStatusResult,
    Row,
    ValidationError,
)
from core.enums import HealthState
from core.models import IntegrationSummaryResult

T, OTHER = "acme", "globex"
SECRET = "sk-live-very-secret-0123456789"


async def _populate(f: IntegrationsFacade) -> dict[str, list[str]]:
    """Several tenants, providers, limits and a health state; returns ids by tenant."""
    made: dict[str, list[str]] = {T: [], OTHER: []}
    items = [
        {
            "name": f"alpha-{i:02d}",
            "provider_type": ["openai", "anthropic", "ollama", "mistral"][i % 4],
            "credential": "" if i % 4 == 2 else SECRET,
            "default_model": "gpt-4o-mini" if i % 3 else None,
            "budget_limit_cents": 100 * i,
            "token_limit_month": 1000 * (i % 5),
            "rate_limit_rpm": i % 3,
        }
        for i in range(60)
    ]
    made[T] = [d.id for d in await f.create_integrations(T, items)]
    one = await f.create_integration(T, name="Beta Prod", provider_type="groq", credential=SECRET)
    made[T].append(one.id)
    for name in ("alpha-00", "gamma"):  # a name shared across tenants
        d = await f.create_integration(OTHER, name=name, provider_type="ollama")
        made[OTHER].append(d.id)
    await f.disable_integration(T, made[T][3])
    await f.update_integration(T, made[T][5], default_model="claude-3-5-haiku-latest")
    return made


async def _all_pages(f: IntegrationsFacade, tenant: str, search: str | None) -> list:
    items, offset = [], 0
    while True:
        page = await f.list_integrations(tenant, search=search, offset=offset, limit=7)
        items += page.items
        offset += 7
        if offset >= page.total:
            return items


def _same(light: Row | LimitFigures, model: IntegrationSummaryResult | LimitsStatusResult) -> None:
    """The read side's dataclass has the model's fields, in order, with equal values and types."""
    fields = [f.name for f in dataclasses.fields(light)]
    assert fields == list(type(model).model_fields)
    for name in fields:
        mine, theirs = getattr(light, name), getattr(model, name)
        assert mine == theirs and type(mine) is type(theirs), name


@pytest.mark.parametrize("search", [None, "alpha", "ALPHA-0", "  beta prod ", "anthropic", "zzz"])
async def test_rows_equal_list_integrations(facade: IntegrationsFacade, search: str | None) -> None:
    await _populate(facade)
    dash = Dashboard(facade.db_path)
    for tenant in (T, OTHER, "nobody"):
        rows = dash.rows(tenant, search=search)
        items = await _all_pages(facade, tenant, search)
        assert len(rows) == len(items)
        for row, item in zip(rows, items, strict=True):
            _same(row, item)
    assert dash.rows(T, search="zzz") == []
    assert len(dash.rows(T)) == 61 and len(dash.rows(OTHER)) == 2
    dash.close()


async def test_bad_tenant_or_search_raise_like_the_facade(facade: IntegrationsFacade) -> None:
    dash = facade.dashboard
    for tenant in ("", "has space", "x" * 101, None, 3):
        with pytest.raises(ValidationError) as mine:
            dash.rows(tenant)  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as theirs:
            await facade.list_integrations(tenant)  # type: ignore[arg-type]
        assert mine.value.errors == theirs.value.errors
        with pytest.raises(ValidationError):
            dash.limits(tenant, [])  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            dash.counts(tenant)  # type: ignore[arg-type]
    for search in ("x" * 501, 5, b"alpha"):
        with pytest.raises(ValidationError) as mine:
            dash.rows(T, search=search)  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as theirs:
            await facade.list_integrations(T, search=search)  # type: ignore[arg-type]
        assert mine.value.errors == theirs.value.errors
    with pytest.raises(ValidationError) as bad_id:
        dash.limits(T, [""])
    assert "integration_id" in bad_id.value.errors


async def test_limits_equal_get_limits_status(db_path: Path) -> None:
    t0 = datetime(2026, 3, 31, 23, 59, 0, tzinfo=UTC)
    clock = Clock(t0)
    f = IntegrationsFacade(db_path, clock=clock)
    ids = (await _populate(f))[T]
    for n, at in enumerate((t0 - timedelta(seconds=90), t0 - timedelta(seconds=30), t0)):
        await f.record_usage(T, ids[1], model="gpt-4o-mini", input_tokens=1000, output_tokens=250,
                             cost_cents=12.345, call_id=f"one-{n}", at=at)
    await f.record_usage(T, ids[4], model="gpt-4o-mini", input_tokens=50, output_tokens=5)
    await f.record_usage(T, ids[2], model="llama3", input_tokens=7, output_tokens=3)  # unpriced
    batch = [
        {"integration_id": ids[i % 10], "model": "claude-3-5-haiku-latest",
         "input_tokens": 300 + i, "output_tokens": 40, "call_id": f"b{i}",
         "at": t0 - timedelta(seconds=i * 7)}
        for i in range(40)
    ]
    result = await f.record_usage_batch(T, batch)
    assert result.accepted == 40
    dash = Dashboard(db_path, clock=clock)
    for step in range(3):  # 0 s, then past the minute, then into April (a new period)
        figures = dash.limits(T, ids)
        assert list(figures) == ids
        for iid in ids:
            status = await f.get_limits_status(T, iid)
            assert status is not None
            _same(figures[iid], status)
        if step == 0:
            assert figures[ids[1]].requests_this_minute == 2 + sum(
                1 for i in range(40) if i % 10 == 1 and i * 7 < 60
            )
            assert figures[ids[2]].unpriced_calls >= 1
            assert figures[ids[1]].budget_used_cents > 0
        clock.advance(seconds=45)
    assert figures[ids[1]].period_start == datetime(2026, 4, 1, tzinfo=UTC)
    assert figures[ids[1]].tokens_used_month == 0
    dash.close()
    await f.aclose()


async def test_unknown_ids_are_omitted_and_tenants_do_not_leak(facade: IntegrationsFacade) -> None:
    made = await _populate(facade)
    dash = facade.dashboard
    got = dash.limits(T, ["nope", made[T][0], made[OTHER][0], made[T][0]])
    assert list(got) == [made[T][0]]
    assert dash.limits(OTHER, made[T][:5]) == {}
    assert dash.limits(T, []) == {}


async def test_counts_by_health_state(facade: IntegrationsFacade) -> None:
    made = await _populate(facade)
    dash = facade.dashboard
    assert dash.counts(T) == {"healthy": 0, "degraded": 0, "failing": 0, "unknown": 61}
    assert dash.counts("nobody") == {"healthy": 0, "degraded": 0, "failing": 0, "unknown": 0}
    repo = facade.context.repo
    for iid, state in ((made[T][0], "healthy"), (made[T][1], "failing"), (made[T][2], "healthy")):
        repo.apply_health(T, iid, state=HealthState(state), reason="ok", message=None,
                          latency_ms=5, checked_at="2026-01-01T00:00:00.000000+00:00")
    assert dash.counts(T) == {"healthy": 2, "degraded": 0, "failing": 1, "unknown": 58}
    items = await _all_pages(facade, T, None)
    for row, item in zip(dash.rows(T), items, strict=True):
        _same(row, item)


async def test_empty_and_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "new" / "byok.json"
    dash = Dashboard(path)
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert dash.db_path == path.absolute()
    assert dash.rows(T) == [] and dash.limits(T, ["x"]) == {}
    assert dash.generation() is not None
    dash.close()
    f = IntegrationsFacade(path)  # the file a Dashboard creates is one the facade opens
    assert (await f.list_integrations(T)).total == 0
    await f.aclose()


async def test_default_path_follows_the_facade(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    f = IntegrationsFacade()
    dash = Dashboard()
    assert dash.db_path == f.db_path
    dash.close()
    await f.aclose()
    monkeypatch.setenv("BYOK_DB", str(tmp_path / "elsewhere.json"))
    assert Dashboard().db_path == (tmp_path / "elsewhere.json").absolute()


async def test_facade_dashboard_shares_the_open_state(facade: IntegrationsFacade) -> None:
    dash = facade.dashboard
    assert dash is facade.dashboard
    assert dash.store is facade.context.store and dash.repo is facade.context.repo
    assert dash.usage is facade._usage.store
    before = dash.generation()
    d = await facade.create_integration(
        T, name="live", provider_type="ollama", token_limit_month=10
    )
    assert dash.generation() != before
    assert [r.id for r in dash.rows(T)] == [d.id]
    await facade.record_usage(T, d.id, model="m", input_tokens=3, output_tokens=4)
    assert dash.limits(T, [d.id])[d.id].tokens_used_month == 7


async def test_facade_from_dashboard_shares_and_sees_both_ways(db_path: Path) -> None:
    clock = Clock(datetime(2026, 2, 10, 12, tzinfo=UTC))
    dash = Dashboard(db_path, clock=clock)
    assert dash.rows(T) == []
    f = IntegrationsFacade.from_dashboard(dash, usage_retention_days=3)
    assert f.dashboard is dash and f.db_path == dash.db_path
    assert f.context.store is dash.store and f._usage.store is dash.usage
    assert dash.usage.retention_days == 3  # the facade's options rule the shared store
    d = await f.create_integration(T, name="seen", provider_type="openai", credential=SECRET,
                                   budget_limit_cents=100)
    assert [r.name for r in dash.rows(T)] == ["seen"]
    await f.record_usage(T, d.id, model="gpt-4o-mini", input_tokens=10, output_tokens=5,
                         cost_cents=25)
    fig = dash.limits(T, [d.id])[d.id]
    assert (fig.budget_used_cents, fig.budget_percent, fig.requests_this_minute) == (25, 25.0, 1)
    # the facade sees what was already on disk when the dashboard opened it, too
    assert (await f.get_integration(T, d.id)).credential_hint is not None  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="clock"):
        IntegrationsFacade.from_dashboard(dash, clock=clock)
    await f.aclose()


async def test_a_facade_built_over_an_existing_database(facade: IntegrationsFacade) -> None:
    made = await _populate(facade)
    dash = Dashboard(facade.db_path)
    rows = dash.rows(T)
    f = IntegrationsFacade.from_dashboard(dash)
    items = await _all_pages(f, T, None)
    for row, item in zip(rows, items, strict=True):
        _same(row, item)
    status = await f.get_limits_status(T, made[T][0])
    assert status is not None
    _same(dash.limits(T, [made[T][0]])[made[T][0]], status)
    await f.aclose()


async def test_another_facades_writes_are_seen_next_call(facade: IntegrationsFacade) -> None:
    """A second facade is another process's view: its own store objects over the same files."""
    dash = Dashboard(facade.db_path)
    assert dash.rows(T) == []
    gen = dash.generation()
    d = await facade.create_integration(T, name="from-elsewhere", provider_type="ollama",
                                        rate_limit_rpm=4)
    assert dash.generation() != gen
    assert [r.name for r in dash.rows(T)] == ["from-elsewhere"]
    await facade.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1, call_id="a")
    await facade.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1, call_id="b")
    fig = dash.limits(T, [d.id])[d.id]
    assert (fig.requests_this_minute, fig.rate_percent, fig.tokens_used_month) == (2, 50.0, 4)
    await facade.update_integration(T, d.id, name="renamed")
    assert [r.name for r in dash.rows(T, search="renamed")] == ["renamed"]
    await facade.delete_integration(T, d.id)
    assert dash.rows(T) == [] and dash.limits(T, [d.id]) == {}
    dash.close()


async def test_the_secret_never_shows(facade: IntegrationsFacade) -> None:
    made = await _populate(facade)
    dash = facade.dashboard
    rows = dash.rows(T)
    figures = dash.limits(T, made[T])
    text = repr(rows) + repr(figures) + str(rows) + repr(dash.counts(T))
    assert rows and figures
    assert SECRET not in text and "very-secret" not in text


def test_rows_and_figures_are_frozen_and_slotted() -> None:
    assert not hasattr(Row, "__dict__") or "__slots__" in Row.__dict__
    assert "__slots__" in LimitFigures.__dict__
    row = Row(id="i", name="n", provider_type="openai",  # type: ignore[arg-type]
              status="created", health_state="unknown",  # type: ignore[arg-type]
              default_model=None, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.name = "x"  # type: ignore[misc]


async def test_rows_reflect_each_change_and_reuse_the_rest(facade: IntegrationsFacade) -> None:
    made = (await _populate(facade))[T]
    dash = Dashboard(facade.db_path)  # its own store objects: every write re-reads the file
    first = {r.id: r for r in dash.rows(T)}
    await facade.update_integration(T, made[7], budget_limit_cents=4242, name="changed")
    await facade.delete_integration(T, made[8])
    second = {r.id: r for r in dash.rows(T)}
    assert second[made[7]].budget_limit_cents == 4242 and second[made[7]].name == "changed"
    assert made[8] not in second and len(second) == len(first) - 1
    assert all(second[i] is first[i] for i in second if i != made[7])  # unchanged: reused
    items = await _all_pages(facade, T, None)
    for row, item in zip(dash.rows(T), items, strict=True):
        _same(row, item)
    dash.close()
