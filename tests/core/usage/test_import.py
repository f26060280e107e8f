"""JSON Lines import: OpenAI and Anthropic shapes, integration by name or id, line-numbered
errors for bad lines while the rest is imported, path or stream, re-import is idempotent."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import ImportReport, IntegrationsFacade, ValidationError

T = "acme"


def _jsonl(*objs: object) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
async def two(db_path: Path) -> AsyncIterator[tuple[IntegrationsFacade, str, str]]:
    facade = IntegrationsFacade(db_path, clock=lambda: NOW)
    oa = await facade.create_integration(T, name="Prod OpenAI", provider_type="openai",
                                         credential="sk-test-123456")
    an = await facade.create_integration(T, name="claude", provider_type="anthropic",
                                         credential="sk-ant-test-123456")
    yield facade, oa.id, an.id
    await facade.aclose()


async def test_good_and_bad_lines(two, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f, oa, an = two
    text = _jsonl(
        # 1: OpenAI chat shape, by name (case-insensitive, spaces ignored)
        {"integration": " prod openai ", "model": "gpt-4o",
         "usage": {"prompt_tokens": 1000, "completion_tokens": 500}, "call_id": "a1",
         "timestamp": "2026-11-02T10:00:00Z"},
        # 2: Anthropic shape by id: cache tokens are input too
        {"integration": an, "model": "claude-3-5-sonnet-20241022",
         "usage": {"input_tokens": 100, "output_tokens": 50,
                   "cache_creation_input_tokens": 200, "cache_read_input_tokens": 700}},
        "",  # 3: blank, skipped
        "{not json",  # 4
        {"integration": "nobody", "model": "m",
         "usage": {"prompt_tokens": 1, "completion_tokens": 1}},  # 5
        {"integration": "claude", "model": "m", "usage": {"prompt_tokens": -4}},  # 6
        {"integration": "claude", "usage": {"input_tokens": 1, "output_tokens": 1}},  # 7: model
        {"integration": "claude", "model": "m", "usage": {"input_tokens": 1}},  # 8
        {"integration": "claude", "model": "m",
         "usage": {"input_tokens": 1, "output_tokens": 1, "prompt_tokens": 1}},  # 9: ambiguous
        [1, 2],  # 10
        {"integration": "claude", "model": "m", "usage": {"input_tokens": 1, "output_tokens": 1},
         "timestamp": "last tuesday"},  # 11
        {"integration": "claude", "model": "m", "usage": {"input_tokens": 1, "output_tokens": 1},
         "cost_cents": -1},  # 12
        # 13: given cost, Unix timestamp (October: another period), extra keys ignored
        {"integration": "claude", "model": "local-thing", "id": "msg_1", "object": "x",
         "usage": {"input_tokens": 3, "output_tokens": 4}, "cost_cents": 0.25,
         "timestamp": 1793000000},
        # 14: OpenAI with cached prompt tokens (already part of prompt_tokens)
        {"integration": oa, "model": "gpt-4o",
         "usage": {"prompt_tokens": 1000, "completion_tokens": 500,
                   "prompt_tokens_details": {"cached_tokens": 100}}},
    )
    path = tmp_path / "usage.jsonl"
    path.write_text(text)
    report = await f.import_usage_jsonl(T, str(path))
    assert isinstance(report, ImportReport)
    assert report.lines == 13
    assert report.imported == 4
    assert report.error_count == 9
    by_line = {e.line: e.message for e in report.errors}
    assert sorted(by_line) == [4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "not valid JSON" in by_line[4]
    assert "'nobody' not found" in by_line[5]
    assert "usage.prompt_tokens" in by_line[6]
    assert "model" in by_line[7]
    assert "usage.output_tokens" in by_line[8]
    assert "usage" in by_line[9]
    assert "JSON object" in by_line[10]
    assert "timestamp" in by_line[11]
    assert "cost_cents" in by_line[12]

    # 0.75 (line 1) + 0.7375 (line 14) for OpenAI; Anthropic: 100 plain input at $3, 200 cache
    # write at $3.75, 700 cache read at $0.30, 50 output at $15 per MTok = $0.00201 = 0.201 cents
    assert report.cost_cents == 1.9385  # 0.75 + 0.7375 + 0.201 + 0.25, summed exactly
    s = await f.get_limits_status(T, an)
    assert s is not None and s.tokens_used_month == 1000 + 50  # cache tokens count as input
    assert s.requests_month == 1  # line 13 is in October 2026
    s = await f.get_limits_status(T, oa)
    assert s is not None and s.tokens_used_month == 3000 and s.budget_used_cents == 1  # 1.4875


async def test_reimport_is_idempotent_for_call_ids_and_streams_work(two) -> None:  # type: ignore[no-untyped-def]
    f, oa, _ = two
    text = _jsonl(*(
        {"integration": oa, "model": "gpt-4o", "call_id": f"c{i}",
         "usage": {"prompt_tokens": 10, "completion_tokens": 10}}
        for i in range(25)
    ))
    first = await f.import_usage_jsonl(T, io.StringIO(text))
    assert (first.imported, first.duplicates, first.error_count) == (25, 0, 0)
    again = await f.import_usage_jsonl(T, io.BytesIO(text.encode()))
    assert (again.imported, again.duplicates) == (0, 25)
    lines = await f.import_usage_jsonl(T, text.splitlines())
    assert lines.duplicates == 25
    s = await f.get_limits_status(T, oa)
    assert s is not None and s.requests_month == 25


async def test_large_import_in_several_batches(two) -> None:  # type: ignore[no-untyped-def]
    f, oa, _ = two
    text = _jsonl(*(
        {"integration": oa, "model": "unpriced-model",
         "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
        for _ in range(23_456)
    ))
    report = await f.import_usage_jsonl(T, io.StringIO(text))
    assert report.imported == 23_456 and report.unpriced == 23_456
    s = await f.get_limits_status(T, oa)
    assert s is not None and s.tokens_used_month == 3 * 23_456 and s.unpriced_calls == 23_456


async def test_bad_sources(two, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f, _, _ = two
    with pytest.raises(ValidationError) as err:
        await f.import_usage_jsonl(T, str(tmp_path / "missing.jsonl"))
    assert "source" in err.value.errors and "missing.jsonl" in str(err.value)
    with pytest.raises(ValidationError):
        await f.import_usage_jsonl(T, 42)  # type: ignore[arg-type]
    bad_utf8 = io.BytesIO(b'\xff\xfe{"integration": 1}\n')
    report = await f.import_usage_jsonl(T, bad_utf8)
    assert report.imported == 0 and report.errors[0].line == 1


async def test_other_tenants_integration_is_not_found(two) -> None:  # type: ignore[no-untyped-def]
    f, oa, _ = two
    report = await f.import_usage_jsonl("intruder", io.StringIO(_jsonl(
        {"integration": oa, "model": "gpt-4o", "usage": {"prompt_tokens": 1}},
        {"integration": "Prod OpenAI", "model": "gpt-4o", "usage": {"prompt_tokens": 1}},
    )))
    assert report.imported == 0 and report.error_count == 2
    s = await f.get_limits_status(T, oa)
    assert s is not None and s.requests_month == 0


async def test_an_extreme_timestamp_is_one_bad_line(two) -> None:  # type: ignore[no-untyped-def]
    f, oa, _ = two
    line = {"integration": oa, "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    text = _jsonl({**line, "timestamp": "0001-01-01T00:00:00+01:00"}, line,
                  {**line, "at": "9999-12-31T23:59:59-01:00"})  # fmt: skip
    report = await f.import_usage_jsonl(T, io.StringIO(text))
    assert (report.imported, report.error_count) == (1, 2)
    assert [e.line for e in report.errors] == [1, 3]
    assert all("between the years 1 and 9999" in e.message for e in report.errors)


async def test_a_time_before_1970_is_one_bad_line_and_the_limits_still_read(two) -> None:  # type: ignore[no-untyped-def]
    """A year-2 time was once imported, and the rollup it made ('0002-01') failed the store's own
    shape check: every later read of the database was refused (found by the usage-line fuzz)."""
    f, oa, _ = two
    line = {"integration": oa, "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    text = _jsonl({**line, "timestamp": "0002-01-01T00:00:00Z"}, {**line, "timestamp": -1}, line)
    report = await f.import_usage_jsonl(T, io.StringIO(text))
    assert (report.imported, report.error_count) == (1, 2)
    assert "1970" in report.errors[0].message
    status = await f.get_limits_status(T, oa)
    assert status is not None and status.requests_month == 1
