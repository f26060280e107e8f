"""A process killed (SIGKILL) at random instants while recording batches, with checkpoints every
few batches: every acknowledged batch survives, and a batch is present whole or not at all
(never half-written), also when the kill hits a checkpoint."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from core import IntegrationsFacade

# Under `-n`, these tests run one after another on one worker: each keeps child processes busy
# and kills them at chosen instants, and two of them at once would starve each other's children.
pytestmark = pytest.mark.xdist_group("kill-children")

T = "acme"

# Prints "S n" before sending batch n and "A n" once record_usage_batch returned (acknowledged).
# With "slow", every os.write in the child moves at most 4 KiB and then sleeps 1 ms (a slow disk),
# and announces "W" while a large frame is being written, so the parent can kill it mid-frame.
WRITER = r"""
import asyncio, os, sys, time
from core import IntegrationsFacade

if sys.argv[4] == "slow":
    real_write = os.write

    def slow_write(fd, data):
        if len(data) > 50_000:
            print("W", flush=True)
        written = real_write(fd, bytes(memoryview(data)[:4096]))
        time.sleep(0.001)
        return written

    os.write = slow_write

async def main(db, iid, tag):
    f = IntegrationsFacade(db, usage_checkpoint_events=200, usage_checkpoint_seconds=0.05)
    n = 0
    while True:
        rows = [
            {"integration_id": iid, "model": "gpt-4o-mini", "input_tokens": 3, "output_tokens": 1,
             "call_id": f"{tag}-{n}-{i}"}
            for i in range(2000 if n % 4 == 0 else 20)
        ]
        print("S", n, flush=True)
        await f.record_usage_batch("acme", rows)
        print("A", n, flush=True)
        n += 1

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


def _size(n: int) -> int:
    # Every fourth batch is large (a ~100 KB frame, many pages), so that a kill can land in the
    # middle of its write and leave a torn frame behind.
    return 2000 if n % 4 == 0 else 20


def _rows(iid: str, tag: str, n: int) -> list[dict[str, object]]:
    return [
        {"integration_id": iid, "model": "gpt-4o-mini", "input_tokens": 3, "output_tokens": 1,
         "call_id": f"{tag}-{n}-{i}"}
        for i in range(_size(n))
    ]


@pytest.mark.parametrize("mode", ["random", "mid-frame"])
async def test_sigkill_loses_no_acknowledged_batch_and_tears_none(
    db_path: Path, mode: str
) -> None:
    f = IntegrationsFacade(db_path)
    d = await f.create_integration(T, name="x", provider_type="openai", credential="sk-test-1234")
    await f.aclose()
    rng = random.Random(4_2026)
    rounds: list[tuple[str, set[int], set[int]]] = []
    torn = 0
    for r in range(12):
        tag = f"r{r}"
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), d.id, tag,
             "slow" if mode == "mid-frame" else "fast"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ,
        )
        assert proc.stdout is not None
        seen = [proc.stdout.readline()]
        assert seen[0].startswith("S"), proc.stderr.read() if proc.stderr else seen[0]
        if mode == "mid-frame":
            # wait until a large frame is being written (after at least one acknowledgement);
            # the watchdog ends a child that never gets there, failing the assert below
            watchdog = threading.Timer(60, proc.kill)
            watchdog.start()
            while not (seen[-1].startswith("W") and any(x.startswith("A") for x in seen)):
                seen.append(proc.stdout.readline())
                assert seen[-1], proc.stderr.read() if proc.stderr else "child ended"
            watchdog.cancel()
            time.sleep(rng.uniform(0.0, 0.01))
        else:
            # kill at a random instant after the child's first acknowledgement, so the instant
            # falls among batches, not in the child's start-up (imports, the first price lookup)
            while not any(x.startswith("A") for x in seen):
                seen.append(proc.stdout.readline())
                assert seen[-1], proc.stderr.read() if proc.stderr else "child ended"
            time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        # read on through proc.stdout itself: communicate() reads the raw pipe and would drop
        # the lines readline() has already buffered
        rest = proc.stdout.read()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        torn += any(
            not seg.read_bytes().endswith(b"\n")
            for seg in db_path.with_name("byok.usage.d").glob("*.jsonl")
        )
        started, acked = set(), set()
        for line in [*seen, *rest.splitlines()]:
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("S", "A"):
                (started if parts[0] == "S" else acked).add(int(parts[1]))
        rounds.append((tag, started, acked))
        # the rollup file is whole JSON after every kill
        rollups = db_path.with_name("byok.usage.json")
        if rollups.exists():
            json.loads(rollups.read_bytes())
    assert sum(len(a) for _, _, a in rounds) >= 12
    if mode == "mid-frame":
        assert torn >= 6  # the kills did land inside frames: the torn path was exercised

    g = IntegrationsFacade(db_path)
    before = await g.get_limits_status(T, d.id)
    assert before is not None
    present = 0
    for tag, started, acked in rounds:
        for n in sorted(started):
            again = await g.record_usage_batch(T, _rows(d.id, tag, n))
            size = _size(n)
            if n in acked:
                assert again.duplicates == size, (tag, n, again)  # acknowledged: all there
            else:
                assert again.duplicates in (0, size), (tag, n, again)  # whole or absent
            present += again.duplicates
    assert before.requests_month == present
    assert before.tokens_used_month == present * 4
    await g.aclose()

    # every line left in the log is a whole frame with a valid checksum
    for segment in db_path.with_name("byok.usage.d").glob("*.jsonl"):
        data = segment.read_bytes()
        assert data.endswith(b"\n")
        for line in data.splitlines():
            crc, payload = line.split(b" ", 1)
            assert int(crc, 16) == zlib.crc32(payload)
