"""`byok add/edit --budget-period/--alert-thresholds` and what list, show, limits and alerts
print of them, through the real entry point in a subprocess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.clirun import assert_usage_error, byok, fingerprint

from core.timeutil import budget_bounds, from_us, to_us


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "byok.json"
    run = byok("add", "weekly", "--provider", "ollama", "--budget-cents", "100",
               "--budget-period", "week", "--alert-thresholds", "90, 50,100", db=path)  # fmt: skip
    assert run.code == 0, run.err
    return path


def _starts(kind: str, before: datetime, after: datetime) -> set[str]:
    """The period start at the instants around a run (a test that spans midnight still holds)."""
    return {from_us(budget_bounds(to_us(t), kind)[0]).isoformat() for t in (before, after)}


def test_add_and_show_hold_the_settings(db: Path) -> None:
    shown = byok("show", "weekly", "--json", db=db).json
    assert (shown["budget_period"], shown["alert_thresholds"]) == ("week", [50, 90, 100])
    text = byok("show", "weekly", db=db).out
    assert "budget period" in text and "week (UTC)" in text
    assert "50%, 90%, 100%" in text
    [item] = byok("list", "--json", db=db).json["items"]
    assert item["budget_period"] == "week"
    # the default
    assert byok("add", "monthly", "--provider", "ollama", db=db).code == 0
    shown = byok("show", "monthly", "--json", db=db).json
    assert (shown["budget_period"], shown["alert_thresholds"]) == ("month", [80, 100])


def test_edit_changes_the_period_of_limits_and_alerts(db: Path) -> None:
    before = datetime.now(UTC)
    run = byok("usage", "record", "weekly", "--model", "m", "--input", "1", "--output", "0",
               "--cost-cents", "60", db=db)  # fmt: skip
    assert run.code == 0, run.err
    status = byok("limits", "weekly", "--json", db=db).json
    after = datetime.now(UTC)
    assert status["budget_period"] == "week" and status["budget_used_cents"] == 60
    assert status["period_start"].replace("Z", "+00:00") in _starts("week", before, after)
    start = datetime.fromisoformat(status["period_start"])
    assert start.weekday() == 0 and start.time().isoformat() == "00:00:00"
    assert datetime.fromisoformat(status["period_end"]) - start == timedelta(days=7)
    [alert] = byok("alerts", "--json", db=db).json
    assert alert["threshold"] == 50 and "W" in alert["period"]

    run = byok("edit", "weekly", "--budget-period", "day", "--alert-thresholds", "", db=db)
    assert run.code == 0, run.err
    status = byok("limits", "weekly", "--json", db=db).json
    end = datetime.now(UTC)
    assert status["budget_period"] == "day"
    assert status["period_start"].replace("Z", "+00:00") in _starts("day", before, end)
    table = byok("limits", db=db).out.splitlines()
    assert table[0].split()[:3] == ["NAME", "PERIOD", "SPENT"]
    assert table[1].split()[:2] == ["weekly", "day"]
    shown = byok("show", "weekly", "--json", db=db).json
    assert shown["alert_thresholds"] == []
    assert "alert thresholds" in byok("show", "weekly", db=db).out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--budget-period", "fortnight"], "budget-period"),
        (["--alert-thresholds", "0,50"], "from 1 to 1000"),
        (["--alert-thresholds", "50,abc"], "separated by commas"),
        (["--alert-thresholds", ",".join(str(n) for n in range(1, 12))], "at most 10"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(db: Path, args: list[str], needle: str) -> None:
    prints = fingerprint(db)
    assert_usage_error(byok("edit", "weekly", *args, db=db), needle)
    assert fingerprint(db) == prints
    assert_usage_error(byok("add", "other", "--provider", "ollama", *args, db=db), needle)
    assert fingerprint(db) == prints
