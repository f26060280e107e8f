"""Usage benchmark: recording, limits status and check_limits at scale, and the files' size.

    python bench/usage.py [--events 1000000] [--integrations 100] [--batch 10000]
                                [--months 3] [--samples 2000] [--keep DIR]

Bars (issue 4, on the 2-core shared machine), with 1,000,000 usage events over 3 months for 100
integrations: record_usage_batch >= 20,000 events/s; get_limits_status <= 5 ms median;
check_limits <= 2 ms median; all database files together <= 30 MB.

Events are recorded as they would be in real life: in time order, the injected clock following
the events (each batch of --batch events is recorded at the time of its last event), so the log
keeps the last 7 days and older days live on only as monthly rollups. Reads are measured through
the facade's async methods (which include the asyncio.to_thread hop) and as the synchronous
service call the facade runs in that thread. The floors are measured on the same machine: the
to_thread hop of a no-op, the stat calls a read makes, and one append+fdatasync of a frame.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())

from timing import time_async, time_sync

from core import IntegrationsFacade
from core import validation as v

TENANT = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = {
    "openai": ["gpt-4o", "gpt-4o-mini", "o3-mini"],
    "anthropic": ["claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"],
    "google": ["gemini-1.5-flash", "gemini-2.5-pro"],
    "deepseek": ["deepseek-chat"],
    "ollama": ["llama3.1:8b"],  # unpriced
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--integrations", type=int, default=100)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--keep", type=Path, help="directory for the database (kept afterwards)")
    args = ap.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="byok-bench-usage-"))
    base.mkdir(parents=True, exist_ok=True)
    db = base / "byok.json"
    clock = Clock()
    f = IntegrationsFacade(db, clock=clock)
    rng = random.Random(2026)
    kinds = list(KINDS)
    integrations: list[tuple[str, str]] = []
    for i in range(args.integrations):
        kind = kinds[i % len(kinds)]
        d = await f.create_integration(
            TENANT,
            name=f"team-{i:03d}-{kind}",
            provider_type=kind,
            credential="" if kind == "ollama" else f"sk-bench-{i:06d}-abcdefghijklmnop",
            budget_limit_cents=rng.choice([0, 50_000, 200_000, 1_000_000]),
            token_limit_month=rng.choice([0, 50_000_000, 500_000_000]),
            rate_limit_rpm=rng.choice([0, 60, 600]),
        )
        integrations.append((d.id, kind))

    span = timedelta(days=30.4 * args.months)
    step = span / args.events
    print(f"machine: {os.cpu_count()} cores; db dir {base}")
    print(
        f"recording {args.events:,} events over {args.months} months for "
        f"{args.integrations} integrations, batches of {args.batch:,}"
    )
    record_time = 0.0
    accepted = 0
    batch_times: list[float] = []
    for first in range(0, args.events, args.batch):
        last = min(first + args.batch, args.events)
        rows = []
        for i in range(first, last):
            iid, kind = integrations[rng.randrange(len(integrations))]
            rows.append(
                {
                    "integration_id": iid,
                    "model": rng.choice(KINDS[kind]),
                    "input_tokens": rng.randint(50, 4000),
                    "output_tokens": rng.randint(10, 1000),
                    "call_id": f"chatcmpl-{i:020d}",
                    "at": START + step * i,
                }
            )
        clock.now = START + step * (last - 1) + timedelta(seconds=1)
        t = time.perf_counter()
        result = await f.record_usage_batch(TENANT, rows)
        elapsed = time.perf_counter() - t
        record_time += elapsed
        batch_times.append(elapsed)
        accepted += result.accepted
    assert accepted == args.events, accepted
    rate = args.events / record_time
    print(
        f"record_usage_batch: {rate:,.0f} events/s (total {record_time:.1f} s; median batch "
        f"{median_ms(batch_times):.1f} ms for {args.batch:,} events)  [bar >= 20,000/s]"
    )

    # A live last minute, so the rolling window has something to count.
    for iid, _ in integrations[:10]:
        for k in range(30):
            await f.record_usage(TENANT, iid, model="gpt-4o", input_tokens=10, output_tokens=10,
                                 at=clock.now - timedelta(seconds=k))

    ids = [iid for iid, _ in integrations]
    picks = [rng.choice(ids) for _ in range(args.samples)]
    it = iter(picks * 4)
    service = f._usage  # the synchronous service the facade runs in a worker thread

    status_async = await time_async(lambda: f.get_limits_status(TENANT, next(it)), args.samples)
    status_sync = time_sync(lambda: service.get_limits_status(TENANT, next(it)), args.samples)
    check_async = await time_async(
        lambda: f.check_limits(TENANT, next(it), estimated_tokens=2000, estimated_cost_cents=1.5),
        args.samples,
    )
    estimates = v.estimates(2000, 1.5)  # checked by the facade before its worker thread runs
    check_sync = time_sync(lambda: service.check_limits(TENANT, next(it), *estimates), args.samples)
    print(
        f"get_limits_status: median {median_ms(status_async):.3f} ms via the facade (async), "
        f"{median_ms(status_sync):.3f} ms sync service call  [bar <= 5 ms]"
    )
    print(
        f"check_limits:      median {median_ms(check_async):.3f} ms via the facade (async), "
        f"{median_ms(check_sync):.3f} ms sync service call  [bar <= 2 ms]"
    )
    sample = await f.get_limits_status(TENANT, ids[0])
    assert sample is not None
    print(
        f"  e.g. {ids[0][:8]}: {sample.requests_month:,} requests this month, "
        f"{sample.tokens_used_month:,} tokens, {sample.budget_used_cents:,} cents, "
        f"{sample.requests_this_minute} in the last minute, {sample.unpriced_calls:,} unpriced"
    )

    # Floors: what a read or a write cannot go below on this machine.
    hop = await time_async(lambda: asyncio.to_thread(lambda: None), args.samples)
    log_dir = db.with_name("byok.usage.d")
    rollups = db.with_name("byok.usage.json")

    def stats() -> None:
        os.stat(rollups)
        os.scandir(log_dir).close()
        os.stat(db)

    stat_floor = time_sync(stats, args.samples)
    frame = os.urandom(args.batch * 35)
    probe = base / "fsync-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append_sync() -> None:
        os.write(fd, frame)
        os.fdatasync(fd)

    sync_floor = time_sync(append_sync, 20)
    os.close(fd)
    probe.unlink()
    print(
        f"floors: asyncio.to_thread hop {median_ms(hop):.3f} ms; the stat/scandir calls of a "
        f"read {median_ms(stat_floor):.3f} ms; append+fdatasync of a {len(frame) // 1024} KB "
        f"frame {median_ms(sync_floor):.2f} ms"
    )

    await f.aclose()
    t = time.perf_counter()
    g = IntegrationsFacade(db, clock=clock)
    await g.get_limits_status(TENANT, ids[0])
    cold = time.perf_counter() - t
    await g.aclose()
    print(f"cold open + first status (reads the retained log): {cold * 1000:.0f} ms")

    total = dir_size(base)
    files = sorted(p for p in base.rglob("*") if p.is_file())
    print(f"database files: {total / 1e6:.2f} MB in {len(files)} files  [bar <= 30 MB]")
    for p in files:
        print(f"  {p.relative_to(base)}  {p.stat().st_size / 1e6:.2f} MB")
    if args.keep is None:
        shutil.rmtree(base)


if __name__ == "__main__":
    asyncio.run(main())
