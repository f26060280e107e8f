"""Usage storage: retention bounds the files and the dedupe window, checkpoints never double
count, the log alone restores what a crash kept out of the rollups, torn and damaged frames are
handled, and several processes writing at once lose nothing and count every call_id once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

from support.clock import Clock

from core import IntegrationsFacade

T = "acme"



def _log_dir(db_path: Path) -> Path:
    return db_path.with_name("byok.usage.d")


def _segments(db_path: Path) -> list[str]:
    return sorted(p.stem for p in _log_dir(db_path).glob("*.jsonl"))


async def _rec(f: IntegrationsFacade, iid: str, call_id: str | None = None, tokens: int = 1):  # type: ignore[no-untyped-def]
    return await f.record_usage(T, iid, model="m", input_tokens=tokens, output_tokens=0,
                                call_id=call_id)


async def test_retention_deletes_old_segments_and_ends_the_dedupe_window(db_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock, usage_retention_days=7)
    d = await f.create_integration(T, name="x", provider_type="ollama")
    assert (await _rec(f, d.id, "old")).accepted  # type: ignore[union-attr]
    clock.advance(days=3)
    assert (await _rec(f, d.id, "mid")).accepted  # type: ignore[union-attr]
    clock.advance(days=4)  # 2026-03-08: day 0 is still inside the 7 days
    assert (await _rec(f, d.id, "old")).duplicate  # type: ignore[union-attr]
    await _rec(f, d.id)
    assert _segments(db_path) == ["2026-03-01", "2026-03-04", "2026-03-08"]
    clock.advance(days=1)  # 2026-03-09: day 0 falls out
    assert (await _rec(f, d.id, "old")).accepted  # type: ignore[union-attr]
    assert (await _rec(f, d.id, "mid")).duplicate  # type: ignore[union-attr]
    assert _segments(db_path) == ["2026-03-04", "2026-03-08", "2026-03-09"]
    s = await f.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 4  # old, mid, one, old again: rollups keep all
    await f.aclose()
    g = IntegrationsFacade(db_path, clock=clock, usage_retention_days=7)
    s = await g.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 4
    assert (await _rec(g, d.id, "mid")).duplicate  # type: ignore[union-attr]
    await g.aclose()


async def test_files_stay_bounded_over_many_days(db_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock, durable=False)
    d = await f.create_integration(T, name="x", provider_type="ollama")
    rows = [{"integration_id": d.id, "model": "m", "input_tokens": 1, "output_tokens": 1}] * 500
    sizes = []
    for _ in range(59):  # 2026-01-01 .. 2026-02-28
        await f.record_usage_batch(T, rows)
        clock.advance(days=1)
        sizes.append(sum(p.stat().st_size for p in _log_dir(db_path).glob("*.jsonl")))
    assert len(_segments(db_path)) <= 8
    assert max(sizes[20:]) <= max(sizes[:10]) * 1.1  # flat once the retention is full
    rollup = json.loads(db_path.with_name("byok.usage.json").read_bytes())
    assert len(rollup["rollups"]) == 2  # January and February: one document per month
    clock.now = datetime(2026, 2, 27, tzinfo=UTC)
    s = await f.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 500 * 28
    await f.aclose()


async def test_log_restores_what_the_rollups_missed_without_double_counting(
    db_path: Path,
) -> None:
    # Checkpoints far apart: everything lives in the log only, as after a crash.
    slow = {"usage_checkpoint_seconds": 3600, "usage_checkpoint_events": 10**9}
    a = IntegrationsFacade(db_path, **slow)
    d = await a.create_integration(T, name="x", provider_type="ollama")
    for i in range(30):
        await _rec(a, d.id, f"c{i}", tokens=i)
    assert not db_path.with_name("byok.usage.json").exists()  # never checkpointed
    # A second process (never closing the first: as if it had been killed) sees it all.
    b = IntegrationsFacade(db_path, **slow)
    s = await b.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 30 and s.tokens_used_month == sum(range(30))
    await b.aclose()  # b folds the log into the rollups
    assert db_path.with_name("byok.usage.json").exists()
    # a still holds its view from before that checkpoint: it must not count anything twice
    s = await a.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 30
    await _rec(a, d.id, "c-last", tokens=100)
    assert (await _rec(a, d.id, "c3")).duplicate  # type: ignore[union-attr]
    c = IntegrationsFacade(db_path)
    for f in (a, c):
        s = await f.get_limits_status(T, d.id)
        assert s is not None and s.requests_month == 31
        assert s.tokens_used_month == sum(range(30)) + 100
    await a.aclose()
    await c.aclose()


async def test_torn_tail_is_ignored_then_cut_off(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    d = await f.create_integration(T, name="x", provider_type="ollama")
    await _rec(f, d.id, "a", tokens=5)
    await f.aclose()
    [segment] = _log_dir(db_path).glob("*.jsonl")
    good_size = segment.stat().st_size
    # a writer killed mid-append: part of a frame, no newline
    with open(segment, "ab") as fh:
        fh.write(b'0badc0de {"v":1,"r":1,"t":"acme","i":["' + d.id.encode() + b'"],"e":[[0')
    g = IntegrationsFacade(db_path)
    s = await g.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 1 and s.tokens_used_month == 5
    assert segment.stat().st_size > good_size  # a reader does not repair
    await _rec(g, d.id, "b", tokens=7)  # the writer cuts the torn tail off, then appends
    lines = segment.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    for line in lines[:-1]:
        crc, payload = line.split(b" ", 1)
        assert int(crc, 16) == zlib.crc32(payload)
    await g.aclose()
    h = IntegrationsFacade(db_path)
    s = await h.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 2 and s.tokens_used_month == 12
    await h.aclose()


async def test_a_damaged_frame_is_skipped_and_the_rest_kept(db_path: Path) -> None:
    slow = {"usage_checkpoint_seconds": 3600}
    f = IntegrationsFacade(db_path, **slow)
    d = await f.create_integration(T, name="x", provider_type="ollama")
    for i in range(3):
        await _rec(f, d.id, f"c{i}", tokens=10**i)
    [segment] = _log_dir(db_path).glob("*.jsonl")
    raw = bytearray(segment.read_bytes())
    second = raw.index(b"\n") + 1
    at = raw.index(b'"c1"', second)
    raw[at + 1 : at + 3] = b"zz"  # bit rot inside the second frame: its checksum fails
    segment.write_bytes(bytes(raw))
    g = IntegrationsFacade(db_path, **slow)
    s = await g.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 2 and s.tokens_used_month == 1 + 100
    await g.aclose()


WRITER = r"""
import asyncio, sys
from core import IntegrationsFacade

async def main(db, iid, tag, batches):
    f = IntegrationsFacade(db, usage_checkpoint_events=150)
    for b in range(batches):
        rows = [
            {"integration_id": iid, "model": "m", "input_tokens": 1, "output_tokens": 2,
             "cost_cents": 0.001, "call_id": f"shared-{b}-{i}" if i % 2 else f"{tag}-{b}-{i}"}
            for i in range(20)
        ]
        await f.record_usage_batch("acme", rows)
    await f.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


async def test_concurrent_processes_count_every_call_once(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    d = await f.create_integration(T, name="x", provider_type="ollama", budget_limit_cents=1)
    procs, batches = 3, 60
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), d.id, f"p{n}", str(batches)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ,
        )
        for n in range(procs)
    ]
    # meanwhile this process reads (lock-free) and records too
    for i in range(40):
        await _rec(f, d.id, f"main-{i}")
        await f.get_limits_status(T, d.id)
    for child in children:
        _, err = await asyncio.to_thread(child.communicate, timeout=120)
        assert child.returncode == 0, err.decode()
    # per batch: 10 own call_ids per process, 10 shared by all processes (counted once)
    expected = procs * batches * 10 + batches * 10 + 40
    s = await f.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == expected
    assert s.budget_used_cents == round((expected - 40) * 0.001)
    alerts = await f.get_alerts(T, d.id)
    assert sorted(a.threshold for a in alerts) == [80, 100]  # once each, despite 4 writers
    await f.aclose()
    g = IntegrationsFacade(db_path)
    s = await g.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == expected
    await g.aclose()
