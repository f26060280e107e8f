"""Spend benchmark: `byok sync` of N days of hourly buckets for 100 keys x 5 models against the
fake provider's admin routes over real HTTP on 127.0.0.1, and the limits read with that spend.

    python bench/spend.py [--days 10,30,90] [--keys 100] [--models 5] [--runs 3]
                          [--reads 7] [--samples 200] [--keep DIR]

Bar (issue 15): the 90-day sync completes, its disk stays small (the rows are kept per day, key
and model, not per hour), and the limits read with the synced spend present holds the bars of
bench/limits_scale.py: a fresh `byok limits REF --json` and a cold first get_limits_status
within 1.3x the time and RSS of the same read on the same database with no spend synced.

Per size, on a fresh copy of one database (100 OpenAI integrations, one admin account): the
wall time and peak RSS of a fresh `byok sync --days N` process (median of --runs), the disk of
byok.spend.json + byok.spend.d/, the rows the provider sent; and, as the floor in the same run,
a fresh process that only GETs and parses the same usage pages over the same HTTP.

The fake provider runs in its own process; its usage is made on demand for each hour
(FakeAdmin.source), so the server holds no million rows. Limits reads (after the largest sync):
a fresh `byok limits REF --json` process (median of --reads), a cold open + first
get_limits_status in a fresh process, and warm in-process reads (median of --samples) now and
at the end of the last full month (every day of the period reported); the floor of each is the
same read with the spend files moved aside.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from health import ready_port
from limits_scale import CHECK, PEAK, run_child
from timing import time_async

ROOT = Path(__file__).resolve().parents[1]
TENANT = "default"
MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini", "gpt-4.1-nano"]
ADMIN = "sk-admin-" + "b" * 40
WINDOW_S = 7 * 86400  # the sync's window: 168 hourly buckets

COLD = (
    PEAK
    + r"""
import asyncio, time
from core import IntegrationsFacade

async def main(db, ref):
    t = time.perf_counter()
    f = IntegrationsFacade(db, create=False)
    found = await f.resolve_integration("default", ref)
    s = await f.get_limits_status("default", found.id)
    print(time.perf_counter() - t, s.budget_source)
    await f.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""
)

FETCH = (
    PEAK
    + r"""
import sys, time, httpx
base, days = sys.argv[1], int(sys.argv[2])
now = int(time.time())
start = (now - days * 86400) // 86400 * 86400
client = httpx.Client(headers={"authorization": "Bearer " + sys.argv[3]}, timeout=120)
rows = 0
while start < now:
    end = min(start + 7 * 86400, now)
    q = {"start_time": start, "end_time": end, "bucket_width": "1h",
         "group_by": ["api_key_id", "model"], "limit": 168}
    while True:
        body = client.get(base + "/organization/usage/completions", params=q).json()
        rows += sum(len(b["results"]) for b in body["data"])
        if not body["has_more"]:
            break
        q["page"] = body["next_page"]
    start = end
print(rows)
"""
)


def key_secret(i: int) -> str:
    return "sk-proj-" + "k" * 40 + f"{i:04d}"


def serve(keys: int, models: int) -> None:
    """The fake provider with `keys` OpenAI keys using `models` models every hour."""
    from tui.demo.fakeadmin import Use
    from tui.demo.fakeprovider import FakeProviderServer

    chosen = MODELS[:models]

    def source(provider: str, start: int, end: int) -> list[Use]:
        out = []
        for hour in range(-(-start // 3600) * 3600, end, 3600):
            at = datetime.fromtimestamp(hour, UTC)
            n = hour // 3600
            for k in range(keys):
                for m, model in enumerate(chosen):
                    spread = (n + 7 * k + 13 * m) % 5000
                    out.append(Use(at, f"key_{k:04d}", model, 1000 + spread, 100 + spread // 10,
                                   cached=spread // 4))  # fmt: skip
        return out

    server = FakeProviderServer()
    server.admin.openai_keys = [
        ("proj_1", f"key_{k:04d}", f"sk-pro...{k:04d}") for k in range(keys)
    ]
    server.admin.source = source
    server.admin.page_size = 24
    server.start()
    print(f"READY {server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def start_server(keys: int, models: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--keys", str(keys), "--models", str(models)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    return proc, ready_port(proc)


def base_db(workdir: Path, keys: int, url: str) -> Path:
    """A database with `keys` OpenAI integrations and one admin account, nothing synced."""
    from core import IntegrationsFacade

    db = workdir / "base" / "byok.json"

    async def make() -> None:
        f = IntegrationsFacade(db)
        await f.create_integrations(
            TENANT,
            [{"name": f"team-{i:03d}", "provider_type": "openai", "credential": key_secret(i),
              "budget_limit_cents": 100_000} for i in range(keys)],
        )  # fmt: skip
        f.spend().add_account(TENANT, "org", "openai", ADMIN, url)
        await f.aclose()

    asyncio.run(make())
    return db


def fresh_copy(base: Path, into: Path) -> Path:
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(base.parent, into)
    return into / base.name


def disk_bytes(db: Path) -> int:
    total = db.with_name("byok.spend.json").stat().st_size
    for entry in os.scandir(db.with_name("byok.spend.d")):
        total += entry.stat().st_size
    return total


def sync_row(base: Path, workdir: Path, days: int, runs: int, env: dict[str, str],
             url: str) -> dict[str, Any]:  # fmt: skip
    times, rss = [], []
    rows = disk = 0
    for r in range(runs):
        db = fresh_copy(base, workdir / f"sync-{days}-{r}")
        elapsed, kib, out = run_child(
            [sys.executable, "-c", CHECK, "--db", str(db), "sync", "--days", str(days), "--json"],
            env,
        )
        [report] = json.loads(out)
        if not report["ok"]:
            raise SystemExit(f"sync failed: {report['error']}")
        times.append(elapsed)
        rss.append(kib)
        rows, disk = report["rows"], disk_bytes(db)
    f_times, f_rss = [], []
    for _ in range(runs):
        elapsed, kib, out = run_child([sys.executable, "-c", FETCH, url, str(days), ADMIN], env)
        f_times.append(elapsed)
        f_rss.append(kib)
    return {
        "days": days, "rows": rows, "disk": disk,
        "sync_s": statistics.median(times), "sync_rss": statistics.median(rss) / 1024,
        "fetch_s": statistics.median(f_times), "fetch_rss": statistics.median(f_rss) / 1024,
    }  # fmt: skip


def _aside(db: Path, hide: bool) -> None:
    """Move the spend files aside (hide) or back."""
    for name in ("byok.spend.json", "byok.spend.d"):
        here, there = db.with_name(name), db.with_name(name + ".aside")
        src, dst = (here, there) if hide else (there, here)
        if src.exists():
            src.rename(dst)


def limits_rows(db: Path, reads: int, samples: int, env: dict[str, str]) -> list[list[str]]:
    from core import IntegrationsFacade

    out = []
    cases = [("with 'reported' spend", False), ("floor: no spend synced", True)]
    for label, hide in cases:
        _aside(db, hide)
        try:
            cli = [run_child([sys.executable, "-c", CHECK, "--db", str(db), "limits", "team-001",
                              "--json"], env) for _ in range(reads)]  # fmt: skip
            cold = [run_child([sys.executable, "-c", COLD, str(db), "team-001"], env)
                    for _ in range(reads)]  # fmt: skip
            source = cold[0][2].split()[1].decode()
            warm = {}
            last_month_end = datetime.now(UTC).replace(
                day=1, hour=0, minute=0, second=0, microsecond=0
            ) - timedelta(seconds=1)
            for when, at in (("now", None), ("a full month", last_month_end)):
                opts = {"clock": (lambda at=at: at)} if at is not None else {}
                warm[when] = asyncio.run(_warm(IntegrationsFacade, db, samples, opts))
        finally:
            _aside(db, False)
        out.append([
            label, source,
            f"{statistics.median(t for t, _, _ in cli) * 1e3:.0f} ms",
            f"{statistics.median(k for _, k, _ in cli) / 1024:.0f} MB",
            f"{statistics.median(float(o.split()[0]) for _, _, o in cold) * 1e3:.1f} ms",
            f"{statistics.median(k for _, k, _ in cold) / 1024:.0f} MB",
            f"{warm['now']:.3f} ms", f"{warm['a full month']:.3f} ms",
        ])  # fmt: skip
    return out


async def _warm(facade_cls: Any, db: Path, samples: int, opts: dict[str, Any]) -> float:
    f = facade_cls(db, create=False, **opts)
    try:
        found = await f.resolve_integration(TENANT, "team-001")
        times = await time_async(lambda: f.get_limits_status(TENANT, found.id), samples)
        return statistics.median(times) * 1e3
    finally:
        await f.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", default="10,30,90")
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--models", type=int, default=5, choices=range(1, len(MODELS) + 1))
    ap.add_argument("--runs", type=int, default=3, help="syncs per size (median)")
    ap.add_argument("--reads", type=int, default=7, help="fresh-process limits reads (median)")
    ap.add_argument("--samples", type=int, default=200, help="in-process limits reads (median)")
    ap.add_argument("--keep", type=Path, help="work here and keep the files")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.keys, args.models)
        return
    key = base64.b64encode(os.urandom(32)).decode()
    os.environ["BYOK_MASTER_KEY"] = key
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="byok-bench-spend-"))
    workdir.mkdir(parents=True, exist_ok=True)
    proc, port = start_server(args.keys, args.models)
    url = f"http://127.0.0.1:{port}/openai/v1"
    try:
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.keys} keys "
              f"x {args.models} models, hourly buckets; runs {args.runs}", flush=True)  # fmt: skip
        base = base_db(workdir, args.keys, url)
        sizes = [int(d) for d in args.days.split(",")]
        rows = [sync_row(base, workdir, d, args.runs, env, url) for d in sizes]
        print(
            "\n| days | rows sent | `byok sync` | its RSS | disk | floor: fetch + parse only "
            "| its RSS |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(
                f"| {r['days']} | {r['rows']:,} | {r['sync_s']:.1f} s | {r['sync_rss']:.0f} MB "
                f"| {r['disk'] / 1e6:.2f} MB | {r['fetch_s']:.1f} s | {r['fetch_rss']:.0f} MB |"
            )
        db = workdir / f"sync-{sizes[-1]}-0" / "byok.json"
        print(f"\nlimits read of team-001 on the {sizes[-1]}-day database:")
        print(
            "| case | source | `byok limits REF --json` | its RSS | cold open + first status "
            "| its RSS | warm, now | warm, a full month |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in limits_rows(db, args.reads, args.samples, env):
            print("| " + " | ".join(row) + " |")
        print("\n[bar: with spend within 1.3x the floor's time and RSS, fresh process and cold]")
    finally:
        proc.kill()
        proc.wait()
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
