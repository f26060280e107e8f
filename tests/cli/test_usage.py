"""`byok` limits/check/usage record/usage import/alerts: JSON shapes and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.clirun import assert_usage_error, byok, copy_db, fingerprint
from support.env import isolated

from core import Alert, ImportReport, LimitDecision, LimitsStatusResult, UsageRecordResult


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A metered and a free integration, made once for the module; each test gets a copy."""
    with isolated(tmp_path_factory.mktemp("home")):
        path = tmp_path_factory.mktemp("template") / "byok.json"
        run = byok("add", "metered", "--provider", "ollama", "--budget-cents", "100",
                   "--token-limit", "100000", db=path)  # fmt: skip
        assert run.code == 0, run.err
        assert byok("add", "free", "--provider", "ollama", db=path).code == 0
        assert byok("enable", "metered", db=path).code == 0
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    return copy_db(template, tmp_path / "byok.json")


def record(db: Path, cents: str, *extra: str) -> UsageRecordResult:
    run = byok("usage", "record", "metered", "--model", "llama3.2", "--input", "10",
               "--output", "5", "--cost-cents", cents, "--json", *extra, db=db)  # fmt: skip
    assert run.code == 0, run.err
    return UsageRecordResult.model_validate(run.json)


def test_usage_record_json_and_duplicates(db: Path) -> None:
    first = record(db, "12.5", "--call-id", "c-1")
    assert first.accepted and not first.duplicate and first.cost_cents == 12.5
    again = record(db, "12.5", "--call-id", "c-1")
    assert again.duplicate and not again.accepted
    status = LimitsStatusResult.model_validate(byok("limits", "metered", "--json", db=db).json)
    assert status.tokens_used_month == 15 and status.budget_used_cents == 13  # counted once


def test_limits_exit_codes_follow_the_worst_integration(db: Path) -> None:
    run = byok("limits", "--json", db=db)
    assert run.code == 0
    assert [LimitsStatusResult.model_validate(s).budget_percent for s in run.json] == [0.0, 0.0]
    record(db, "85")
    assert byok("limits", "metered", db=db).code == 1
    assert byok("limits", "free", db=db).code == 0
    assert byok("limits", db=db).code == 1  # the worst of all
    record(db, "20")
    run = byok("limits", db=db)
    assert run.code == 2
    assert "105%" in run.out and all(len(line) <= 80 for line in run.out.splitlines())


def test_check_decisions_and_exit_codes(db: Path) -> None:
    run = byok("check", "metered", "--json", db=db)
    assert run.code == 0
    assert LimitDecision.model_validate(run.json).decision == "allowed"
    run = byok("check", "metered", "--cost-cents", "85", "--json", db=db)
    assert run.code == 1 and run.json["decision"] == "warned" and run.json["reasons"]
    run = byok("check", "metered", "--tokens", "100000", db=db)
    assert run.code == 2 and "blocked" in run.out
    assert byok("disable", "metered", db=db).code == 0
    assert byok("check", "metered", "--json", db=db).json["decision"] == "blocked"


def test_check_throttled_by_rpm(db: Path) -> None:
    assert byok("edit", "free", "--rpm", "1", db=db).code == 0
    assert byok("enable", "free", db=db).code == 0
    assert byok("usage", "record", "free", "--model", "m", "--input", "1", "--output", "1",
                db=db).code == 0  # fmt: skip
    run = byok("check", "free", "--json", db=db)
    assert run.code == 1 and run.json["decision"] == "throttled"
    assert run.json["retry_after_s"] > 0


def test_alerts_after_crossing_80_percent(db: Path) -> None:
    assert byok("alerts", "--json", db=db).json == []
    record(db, "81")
    run = byok("alerts", "--json", db=db)
    assert run.code == 0
    alerts = [Alert.model_validate(a) for a in run.json]
    assert [(a.kind, a.threshold, a.integration_name) for a in alerts] == [
        ("budget", 80, "metered")
    ]
    assert "metered" in byok("alerts", db=db).out
    assert byok("alerts", "free", "--json", db=db).json == []


def test_usage_import_good_and_bad_lines(db: Path, tmp_path: Path) -> None:
    good = {
        "integration": "METERED",
        "model": "llama3.2",
        "call_id": "a",
        "usage": {"prompt_tokens": 100, "completion_tokens": 20},
        "cost_cents": 1.5,
    }
    path = tmp_path / "usage.jsonl"
    path.write_text(json.dumps(good) + "\n")
    run = byok("usage", "import", str(path), "--json", db=db)
    assert run.code == 0, run.err
    report = ImportReport.model_validate(run.json)
    assert (report.lines, report.imported, report.error_count) == (1, 1, 0)
    path.write_text(json.dumps({**good, "call_id": "b"}) + "\n{broken\n")
    run = byok("usage", "import", str(path), db=db)
    assert run.code == 65
    assert "1 imported" in run.out and f"{path}:2:" in run.err
    run = byok("usage", "import", "-", "--json", db=db, input=json.dumps(good) + "\n")
    assert run.code == 0 and run.json["duplicates"] == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["usage", "record", "metered", "--model", "m", "--input", "-1", "--output", "1"],
         "0 or more"),
        (["usage", "record", "metered", "--input", "1", "--output", "1"], "--model"),
        (["usage", "record", "ghost", "--model", "m", "--input", "1", "--output", "1"],
         "no integration"),
        (["usage", "record", "metered", "--model", "m", "--input", "1", "--output", "1",
          "--cost-cents", "nan"], "finite"),
        (["usage", "import", "/nonexistent/usage.jsonl"], "cannot open"),
        (["usage"], "required"),
        (["check", "ghost"], "no integration"),
        (["check", "metered", "--tokens", "many"], "whole number"),
        (["limits", "ghost"], "no integration"),
        (["alerts", "--limit", "0"], "at least 1"),
    ],
)  # fmt: skip
def test_bad_usage_input_exits_64_and_changes_nothing(
    db: Path, args: list[str], needle: str
) -> None:
    before = fingerprint(db)
    assert_usage_error(byok(*args, db=db), needle)
    assert fingerprint(db) == before
