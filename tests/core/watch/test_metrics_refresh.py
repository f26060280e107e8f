"""The watcher's rendering re-reads rows, limits and decisions only when a file they come from
changed, or time alone moved a figure (a call leaving the rolling minute, a period's end), and
says what a rendering from scratch says."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from prometheus_client.parser import text_string_to_metric_families
from support.clock import Clock

from core import IntegrationsFacade
from core.watch.metrics import Metrics
from core.watch.service import Watcher

T0 = datetime(2026, 11, 30, 23, 58, tzinfo=UTC)


def parsed(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name != "byok_watch_metrics_refreshed_timestamp_seconds"
    }


def value(body: bytes, name: str, integration: str) -> float | None:
    for (metric, labels), x in parsed(body).items():
        if metric == name and ("integration", integration) in labels:
            return x
    return None


@contextmanager
def counting(facade: IntegrationsFacade) -> Iterator[dict[str, list[Any]]]:
    dash = facade.dashboard
    calls: dict[str, list[Any]] = {"rows": [], "limits": [], "decisions": []}
    rows, limits, decisions = dash.rows, dash.limits, facade.limit_decisions

    def count_rows(tenant: str, **kw: Any) -> Any:
        calls["rows"].append(tenant)
        return rows(tenant, **kw)

    def count_limits(tenant: str, ids: Any) -> Any:
        ids = list(ids)
        calls["limits"].append(sorted(ids))
        return limits(tenant, ids)

    async def count_decisions(tenant: str, ids: Any) -> Any:
        calls["decisions"].append(sorted(ids))
        return await decisions(tenant, ids)

    with (
        mock.patch.object(dash, "rows", count_rows),
        mock.patch.object(dash, "limits", count_limits),
        mock.patch.object(facade, "limit_decisions", count_decisions),
    ):
        yield calls


async def scratch(db_path: Path, clock: Clock) -> bytes:
    """What a new watcher renders from the same files now."""
    facade = IntegrationsFacade(db_path, clock=clock)
    try:
        watcher = Watcher(facade, {})
        await watcher.refresh_metrics(True)
        watcher.state.close()
        return watcher.metrics.body()
    finally:
        await facade.aclose()


async def test_a_refresh_reads_what_changed_and_agrees_with_a_fresh_one(db_path: Path) -> None:
    clock = Clock(T0)
    facade = IntegrationsFacade(db_path, clock=clock)
    try:
        ids = {}
        for name in ("a", "b"):
            detail = await facade.create_integration(
                "t1", name=name, provider_type="openai", credential="sk-" + name * 30
            )
            ids[name] = detail.id
            await facade.update_integration("t1", detail.id, budget_limit_cents=100)
        watcher = Watcher(facade, {}, metrics=Metrics())
        await watcher.refresh_metrics(True)
        renderer = watcher.metrics.integrations
        with counting(facade) as calls, mock.patch.object(
            renderer, "render", wraps=renderer.render
        ) as render:
            await watcher.refresh_metrics(True)
            assert calls == {"rows": [], "limits": [], "decisions": []}  # nothing changed
            assert render.call_count == 0  # and nothing rendered again

            await facade.record_usage(
                "t1", ids["a"], model="gpt-4o", input_tokens=1, output_tokens=1, cost_cents=85
            )
            await watcher.refresh_metrics(True)
            assert calls["rows"] == ["t1"] and calls["limits"] == [sorted(ids.values())]
            assert calls["decisions"] == [[ids["a"]]]  # only a's figures changed
            body = watcher.metrics.body()
            assert value(body, "byok_budget_used_cents", "a") == 85
            assert value(body, "byok_requests_last_minute", "a") == 1
            assert parsed(body) == parsed(await scratch(db_path, clock))
            await watcher.refresh_metrics(True)  # the other facade's close wrote the rollups

            for kept in calls.values():
                kept.clear()
            clock.advance(seconds=30)  # a's call is still in the rolling minute: a re-read
            await watcher.refresh_metrics(True)
            assert calls == {"rows": [], "limits": [[ids["a"]]], "decisions": []}
            clock.advance(seconds=31)  # it left the minute
            await watcher.refresh_metrics(True)
            assert value(watcher.metrics.body(), "byok_requests_last_minute", "a") == 0
            assert parsed(watcher.metrics.body()) == parsed(await scratch(db_path, clock))
            await watcher.refresh_metrics(True)
            calls["limits"].clear()
            await watcher.refresh_metrics(True)
            assert calls["limits"] == []  # nothing in the minute any more: nothing read

            clock.advance(minutes=2)  # December: a new period, the budget used is 0 again
            await watcher.refresh_metrics(True)
            assert calls["limits"] == [sorted(ids.values())]
            assert value(watcher.metrics.body(), "byok_budget_used_cents", "a") == 0
            assert parsed(watcher.metrics.body()) == parsed(await scratch(db_path, clock))
        watcher.state.close()
    finally:
        await facade.aclose()
