"""Limits reads that do not grow with traffic: a fresh process reads the rollups and the log after
the watermark only (the last minute rides in the checkpoint), across folds, month ends and
processes; the call_id index dedupes across days and processes, survives a writer killed between
its append and its index commit, is rebuilt when lost or damaged, and stays bounded by retention.
Real files and, where it matters, real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.clock import Clock

from core import IntegrationsFacade
from core.enums import Decision
from core.usage.dedupe import INDEX_NAME, DedupeIndex

T = "acme"
JAN31 = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)

# Records `n` calls with call ids PREFIX-0 .. PREFIX-(n-1) at time AT (ISO), in batches of
# BATCH, folding every FOLD events; prints the batches' accepted and duplicate counts.
RECORDER = r"""
import asyncio, json, sys
from datetime import datetime
from core import IntegrationsFacade

async def main(db, iid, prefix, n, batch, fold, at):
    now = datetime.fromisoformat(at)
    f = IntegrationsFacade(db, clock=lambda: now, usage_checkpoint_events=fold)
    accepted = duplicates = 0
    for first in range(0, n, batch):
        rows = [{"integration_id": iid, "model": "m", "input_tokens": 2, "output_tokens": 1,
                 "call_id": f"{prefix}-{i}", "at": now}
                for i in range(first, min(first + batch, n))]
        r = await f.record_usage_batch("acme", rows)
        accepted += r.accepted
        duplicates += r.duplicates
    s = await f.get_limits_status("acme", iid)
    print(json.dumps([accepted, duplicates, s.requests_month, s.requests_this_minute]))
    if sys.argv[-1] != "crash":
        await f.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                 int(sys.argv[6]), sys.argv[7]))
"""

# A fresh process's limits status at time AT: requests this month and in the last minute.
READER = r"""
import asyncio, json, sys
from datetime import datetime
from core import IntegrationsFacade

async def main(db, iid, at):
    now = datetime.fromisoformat(at)
    f = IntegrationsFacade(db, clock=lambda: now)
    s = await f.get_limits_status("acme", iid)
    print(json.dumps([s.requests_month, s.tokens_used_month, s.requests_this_minute]))

asyncio.run(main(*sys.argv[1:]))
"""


def _run(script: str, *args: object) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True, text=True, env=os.environ, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _log_dir(db_path: Path) -> Path:
    return db_path.with_name("byok.usage.d")


def _watermark(db_path: Path) -> tuple[str, int]:
    state = json.loads(db_path.with_name("byok.usage.json").read_bytes())["state"]["1"]
    return state["segment"], state["offset"]


async def _integration(db_path: Path, clock: Clock, **limits: int) -> str:
    f = IntegrationsFacade(db_path, clock=clock)
    d = await f.create_integration(T, name="x", provider_type="ollama", **limits)
    await f.aclose()
    return d.id


def _poison_before_watermark(db_path: Path) -> None:
    """Replace every byte before the watermark with ONE frame whose checksum is right but whose
    shape is wrong: a reader that reads it refuses the log (StoreError)."""
    segment, offset = _watermark(db_path)
    path = _log_dir(db_path) / f"{segment}.jsonl"
    data = path.read_bytes()
    head = b'{"v":1,"t":"acme","i":[],"m":[],"e":[[0]]'
    payload = head + b" " * (offset - 9 - len(head) - 2) + b"}"
    line = b"%08x " % zlib.crc32(payload) + payload + b"\n"
    assert len(line) == offset
    path.write_bytes(line + data[offset:])


async def test_a_fresh_process_reads_the_rollups_and_only_the_log_after_the_watermark(
    db_path: Path,
) -> None:
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    iid = await _integration(db_path, clock, rate_limit_rpm=50)
    at = clock.now.isoformat()
    # 300 calls, folded at close: all in the rollups, the watermark at the segment's end
    assert _run(RECORDER, db_path, iid, "a", 300, 30, 10**6, at)[:2] == [300, 0]
    _poison_before_watermark(db_path)
    # a tail of 40 after the watermark, left unfolded (the writer is killed before closing)
    assert _run(RECORDER, db_path, iid, "b", 40, 20, 10**6, at, "crash")[:2] == [40, 0]
    assert _watermark(db_path)[1] < (_log_dir(db_path) / "2026-03-10.jsonl").stat().st_size
    # the rollups' 300 and the tail's 40; the last minute counts both (the checkpoint kept it)
    assert _run(READER, db_path, iid, at) == [340, 340 * 3, 340]
    f = IntegrationsFacade(db_path, clock=clock)
    decision = await f.check_limits(T, iid)
    assert decision is not None and decision.decision is Decision.THROTTLED
    clock.advance(seconds=61)  # the window moves on; the month's totals stay
    s = await f.get_limits_status(T, iid)
    assert s is not None and (s.requests_month, s.requests_this_minute) == (340, 0)
    await f.aclose()


async def test_totals_hold_across_folds_and_processes(db_path: Path) -> None:
    clock = Clock(datetime(2026, 5, 20, 8, 0, tzinfo=UTC))
    iid = await _integration(db_path, clock)
    at = clock.now.isoformat()
    # three writers in turn, folding every 7 events (mid-batch boundaries), the last one killed
    # with its tail unfolded; their call ids overlap: the first 0..99, the second 0..149, the third
    # 0..149 again
    assert _run(RECORDER, db_path, iid, "p", 100, 9, 7, at) == [100, 0, 100, 100]
    second = _run(RECORDER, db_path, iid, "p", 150, 11, 7, at, "crash")
    assert second[:3] == [50, 100, 150]
    # every reader, old view or fresh, sees 150; a third writer finds only repeats
    assert _run(READER, db_path, iid, at) == [150, 450, 150]
    assert _run(RECORDER, db_path, iid, "p", 150, 13, 7, at)[:3] == [0, 150, 150]
    assert _run(READER, db_path, iid, at) == [150, 450, 150]


async def test_a_month_boundary_between_fold_and_tail(db_path: Path) -> None:
    clock = Clock(JAN31)
    iid = await _integration(db_path, clock)
    jan = JAN31.isoformat()
    feb = (JAN31 + timedelta(hours=2)).isoformat()  # 2026-02-01 01:00
    assert _run(RECORDER, db_path, iid, "jan", 20, 20, 10**6, jan)[:2] == [20, 0]  # folded
    assert _run(RECORDER, db_path, iid, "feb", 5, 5, 10**6, feb, "crash")[:2] == [5, 0]  # tail
    assert _run(READER, db_path, iid, feb)[:2] == [5, 15]
    assert _run(READER, db_path, iid, jan)[:2] == [20, 60]
    # a January call recorded late (in February's segment, after the fold) counts for January
    f = IntegrationsFacade(db_path, clock=Clock(JAN31 + timedelta(hours=2)))
    late = await f.record_usage(T, iid, model="m", input_tokens=1, output_tokens=0,
                                call_id="late", at=JAN31)  # fmt: skip
    assert late is not None and late.accepted
    assert (await f.record_usage(T, iid, model="m", input_tokens=1, output_tokens=0,
                                 call_id="jan-3", at=JAN31)).duplicate  # type: ignore[union-attr]
    await f.aclose()
    assert _run(READER, db_path, iid, jan)[:2] == [21, 61]
    assert _run(READER, db_path, iid, feb)[:2] == [5, 15]


async def test_duplicates_across_days_until_the_retention_ends(db_path: Path) -> None:
    clock = Clock(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    iid = await _integration(db_path, clock)
    day = clock.now
    assert _run(RECORDER, db_path, iid, "d", 30, 30, 10**6, day.isoformat())[:2] == [30, 0]
    for later, expected in ((3, [0, 30]), (7, [0, 30]), (8, [30, 0])):
        at = (day + timedelta(days=later)).isoformat()
        assert _run(RECORDER, db_path, iid, "d", 30, 10, 10**6, at)[:2] == expected, later
    # recorded again on day 8: a repeat on day 9 is one again
    at = (day + timedelta(days=9)).isoformat()
    assert _run(RECORDER, db_path, iid, "d", 30, 10, 10**6, at)[:2] == [0, 30]


async def test_a_writer_killed_between_append_and_index_loses_no_dedupe(db_path: Path) -> None:
    clock = Clock(datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    iid = await _integration(db_path, clock)
    at = clock.now.isoformat()
    dies = (
        "import os\nfrom core.usage.dedupe import DedupeIndex\n"
        "DedupeIndex.add = lambda self, rows, pos: os._exit(9)\n"
    )
    # the frame is fsync'd, then the process dies before its index commit
    proc = subprocess.run(
        [sys.executable, "-c", dies + RECORDER, str(db_path), iid, "k", "25", "25", "1000000",
         at],
        capture_output=True, text=True, env=os.environ, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 9, proc.stderr
    assert _run(READER, db_path, iid, at)[0] == 25  # the log has the batch
    assert _run(RECORDER, db_path, iid, "k", 25, 5, 10**6, at)[:2] == [0, 25]  # catch-up
    assert _run(READER, db_path, iid, at)[0] == 25


async def test_a_lost_or_damaged_index_is_rebuilt_from_the_log(db_path: Path) -> None:
    clock = Clock(datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    iid = await _integration(db_path, clock)
    at = clock.now.isoformat()
    assert _run(RECORDER, db_path, iid, "r", 40, 40, 10**6, at)[:2] == [40, 0]
    index = _log_dir(db_path) / INDEX_NAME
    assert index.exists() and index.stat().st_mode & 0o077 == 0
    index.unlink()
    assert _run(RECORDER, db_path, iid, "r", 40, 40, 10**6, at)[:2] == [0, 40]
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(b"not an index at all" * 100)
    assert _run(RECORDER, db_path, iid, "r", 41, 41, 10**6, at)[:2] == [1, 40]
    assert _run(READER, db_path, iid, at)[0] == 41


async def test_index_and_memory_stay_bounded_by_the_retention(db_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    f = IntegrationsFacade(db_path, clock=clock, durable=False, usage_retention_days=3)
    d = await f.create_integration(T, name="x", provider_type="ollama")
    per_day = 2000
    tracemalloc.start()
    try:
        sizes = []
        for n in range(20):
            rows = [
                {"integration_id": d.id, "model": "m", "input_tokens": 1, "output_tokens": 1,
                 "call_id": f"day{n}-{i:06d}-{'x' * 40}"}
                for i in range(per_day)
            ]  # fmt: skip
            assert (await f.record_usage_batch(T, rows)).accepted == per_day
            del rows
            clock.advance(days=1)
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    # 40,000 distinct call ids recorded; the process holds none of them
    assert max(sizes[10:]) < sizes[3] + 1_000_000, sizes
    s = await f.get_limits_status(T, d.id)
    assert s is not None and s.requests_month == 20 * per_day
    await f.aclose()
    index = DedupeIndex(_log_dir(db_path))
    index.open()
    try:
        assert index.count() <= 4 * per_day  # the retained days (3) and today, not the 20
    finally:
        index.close()
