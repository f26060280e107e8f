"""Benchmark: what a health check costs as the database, the health log and the concurrency grow.

Against the fake provider (a child process) answering after `--delay-ms`, on real durable files:

    python bench/health_scale.py db      [--sizes 500,5000,50000] [--n 500]    (database sizes)
    python bench/health_scale.py log     [--sizes 0,50,200] [--n 2000]   (entries per integration)
    python bench/health_scale.py conc    [--sizes 50,200] [--n 2000]     (concurrencies)
    common: [--delay-ms 100] [--reps 3] [--concurrency 50 (of db and log)]

Rows, one per size:
- `db`: checking the same `n` integrations in a database of each size (the others disabled).
  Bar (issue 14): at 50,000 within 1.5x of the same at 500.
- `log`: checking `n` integrations whose health log already holds each number of entries per
  integration. Bar: at 200 entries within 1.3x of an empty log.
- `conc`: `n` integrations at each concurrency (above probe_concurrency's 50 it is honoured with
  a pool that wide). Bar: no result `slow`, wall time within 2x of ceil(n/c) x delay.
Each row: the median wall time of `--reps` checks (after one untimed: imports, the first client),
the fastest, the floor ceil(n/concurrency) x delay, the prober's CPU per probe (process time /
probes, median; less disturbed by other load than wall time) and the load average. Bars compare
medians.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import math
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from health import start_server

from core import HealthState, IntegrationsFacade
from core.health.log import HealthLog
from core.timeutil import to_iso, utc_now

T = "bench"


async def populate(db: Path, base: str, probed: int, filler: int) -> None:
    """`probed` enabled openai integrations on the fake provider, `filler` disabled others."""
    setup = IntegrationsFacade(db, durable=False)
    items = [
        {"name": f"p{i}", "provider_type": "openai", "credential": f"sk-{secrets.token_hex(16)}",
         "default_model": "gpt-4o", "config": {"base_url": base}}
        for i in range(probed)
    ]  # fmt: skip
    docs = await setup.create_integrations(T, items)
    for start in range(0, filler, 5000):
        await setup.create_integrations(
            T,
            [{"name": f"f{i}", "provider_type": "ollama"}
             for i in range(start, min(filler, start + 5000))],
        )  # fmt: skip
    # enabled in one commit (enable_integration rewrites the file each time: O(n^2) set-up)
    probed_ids = {d.id for d in docs}
    with setup.context.store.transaction() as db:
        data = db.storage.read()
        for doc in data["integrations"].values():
            if doc["id"] in probed_ids:
                doc["status"] = "enabled"
        db.storage.write(data)
    await setup.aclose()


def fill_log(db: Path, per_integration: int) -> None:
    """`per_integration` old entries for every probed integration, appended in batches."""
    f = IntegrationsFacade(db, durable=False)
    ids = [d["id"] for d in f.context.repo.tenant_docs(T) if d["provider_type"] == "openai"]
    log = HealthLog(f.context.side_path("health"), durable=False)
    now = to_iso(utc_now())
    seq = 0
    for _ in range(per_integration):
        batch = []
        for iid in ids:
            seq += 1
            batch.append(
                {"tenant_id": T, "integration_id": iid, "integration_name": "p",
                 "provider_type": "openai", "health_state": "healthy", "reason": "ok",
                 "message": "key works; 12 models", "latency_ms": 100, "http_status": 200,
                 "checked_at": now, "deep": False, "seq": seq}
            )  # fmt: skip
        log.append_many(batch)
    log.close()


async def check(db: Path, concurrency: int, reps: int) -> dict[str, Any]:
    """`reps` checks of every enabled integration, after one untimed (imports, first client)."""
    facade = IntegrationsFacade(db)
    _ = [r async for r in facade.check_many(T, concurrency=concurrency)]
    walls, cpus, slow, bad = [], [], 0, collections.Counter()
    n = 0
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        results = [r async for r in facade.check_many(T, concurrency=concurrency)]
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        n = len(results)
        slow += sum(r.reason == "slow" for r in results)
        bad.update(r.reason for r in results if r.health_state is not HealthState.HEALTHY)
    await facade.aclose()
    return {"n": n, "wall": statistics.median(walls), "min": min(walls),
            "cpu_ms": statistics.median(cpus) / n * 1000, "slow": slow,
            "other": dict(bad)}  # fmt: skip


async def main(args: argparse.Namespace) -> int:
    os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    proc, port = start_server(args.delay_ms)
    base = f"http://127.0.0.1:{port}/openai/v1"
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        sizes = [int(x) for x in args.sizes.split(",")]
        for size in sizes:
            work = Path(tempfile.mkdtemp(prefix="byok-bench-scale-"))
            db = work / "byok.json"
            try:
                concurrency = size if args.what == "conc" else args.concurrency
                await populate(db, base, args.n, size - args.n if args.what == "db" else 0)
                if args.what == "log":
                    fill_log(db, size)
                row = await check(db, concurrency, args.reps)
                row["ideal"] = math.ceil(args.n / concurrency) * args.delay_ms / 1000
                rows.append((size, row))
                print(
                    f"{args.what}={size}: {row['n']} probes, median {row['wall']:.2f} s "
                    f"(min {row['min']:.2f}, floor {row['ideal']:.2f} s); "
                    f"{row['cpu_ms']:.2f} ms CPU/probe; slow {row['slow']}; other {row['other']}; "
                    f"load average {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            finally:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    first = rows[0][1]["wall"]
    ok = True
    print(f"\n| {args.what} | probes | median wall s | min s | floor s | x first | x floor "
          "| CPU ms/probe | slow |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size, row in rows:
        print(f"| {size} | {row['n']} | {row['wall']:.2f} | {row['min']:.2f} | {row['ideal']:.2f} "
              f"| {row['wall'] / first:.2f} | {row['wall'] / row['ideal']:.2f} "
              f"| {row['cpu_ms']:.2f} | {row['slow']} |")  # fmt: skip
        if args.what == "conc":
            ok = ok and row["slow"] == 0 and row["wall"] <= 2 * row["ideal"]
    if args.what == "db":
        ok = rows[-1][1]["wall"] <= 1.5 * first
    elif args.what == "log":
        ok = rows[-1][1]["wall"] <= 1.3 * first
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("db", "log", "conc"))
    ap.add_argument("--sizes", help="database sizes, entries per integration or concurrencies")
    ap.add_argument("--n", type=int)
    ap.add_argument("--delay-ms", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=50, help="of the db and log checks")
    ap.add_argument("--reps", type=int, default=3, help="timed checks per size (after one untimed)")
    args = ap.parse_args()
    defaults = {"db": ("500,5000,50000", 500), "log": ("0,50,200", 2000), "conc": ("50,200", 2000)}
    args.sizes = args.sizes or defaults[args.what][0]
    args.n = args.n or defaults[args.what][1]
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
