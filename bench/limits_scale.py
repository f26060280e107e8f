"""Limits reads against the month's traffic: a fresh process per read, at 10k .. 10M events.

    python bench/limits_scale.py [--sizes 10000,100000,1000000,10000000] [--runs 7]
                                 [--tail 2000] [--cache /tmp/byok-limits-scale]

Bar (issue 14, on the 2-core machine): `byok check REF` in a fresh process with 10M events
recorded this month within 1.3x the time and 1.3x the RSS of the same with 10k events; likewise
a cold open + the first get_limits_status (timed inside the process, after its imports).
Each size is measured for a monthly integration (team-001, the default) and a weekly one
(team-002, `budget_period` week: its figures sum the daily rollups of the week + the tail).

Each database holds 100 integrations and N events spread over the current UTC month up to now,
recorded on the day of their time (so the last 7 days are in the log, older ones in the rollups
only), folded, with the dedupe index built, and then a tail of --tail events after the
watermark: what a live writer's last seconds leave for a reader. The files are written straight
in the store's format with its own functions (`encode_frame` for the segments in bulk, then
`UsageStore.checkpoint` and one `commit` to fold, expire and index), not by N record calls, and
are cached under --cache: 10M events take minutes to generate, once. Any process that closes
folds its tail, so the rollups file is put back before every run: each run sees the same tail.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
TENANT = "default"
N_INTEGRATIONS = 100
FRAME = 1000  # events per frame, as a batching writer records them
CHUNK = 200  # frames per write to a segment
PERIODS = {1: "month", 2: "week", 3: "day"}  # team-NNN's budget_period (refs measured: REFS)
REFS = {"month": "team-001", "week": "team-002"}
KINDS = [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku-20241022"),
         ("ollama", "llama3.1:8b")]  # fmt: skip

# The child's own peak RSS, read from /proc at its exit: wait4's ru_maxrss would count the
# parent's memory too (Linux keeps the high-water mark across a vfork + exec).
PEAK = r"""
import atexit, os, sys

def _peak():
    with open("/proc/self/status") as fh:
        kib = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    os.write(int(os.environ["BENCH_PEAK_FD"]), kib.encode())

atexit.register(_peak)
"""
CHECK = PEAK + r"""
import runpy
sys.argv = ["byok", *sys.argv[1:]]
runpy.run_module("tui.cli.main", run_name="__main__")
"""
COLD = PEAK + r"""
import asyncio, time
from core import IntegrationsFacade

async def main(db, iid):
    t = time.perf_counter()
    f = IntegrationsFacade(db)
    s = await f.get_limits_status("default", iid)
    elapsed = time.perf_counter() - t
    assert s is not None and s.requests_month > 0
    print(elapsed, s.requests_month)
    await f.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _env(cache: Path) -> dict[str, str]:
    key_file = cache / "master.key"
    if not key_file.exists():
        cache.mkdir(parents=True, exist_ok=True)
        key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    env = dict(os.environ, BYOK_MASTER_KEY=key_file.read_text().strip())
    env["PYTHONPATH"] = str(ROOT)
    return env


def generate(db: Path, n: int, tail: int) -> None:
    """A database of `n` events this month, `tail` of them after the watermark."""
    import asyncio

    from core import IntegrationsFacade
    from core.timeutil import month_bounds, to_us
    from core.usage.store import Event, encode_frame, open_usage_store

    async def integrations() -> list[str]:
        f = IntegrationsFacade(db)
        specs = []
        for i in range(N_INTEGRATIONS):
            kind, _ = KINDS[i % len(KINDS)]
            specs.append({"name": f"team-{i:03d}", "provider_type": kind,
                          "credential": "" if kind == "ollama" else f"sk-bench-{i:06d}-abcdefgh",
                          "budget_period": PERIODS.get(i, "month")})
        made = await f.create_integrations(TENANT, specs)
        await f.aclose()
        return [d.id for d in made]

    ids = asyncio.run(integrations())
    now = datetime.now(UTC)
    now_us = to_us(now)
    start_us = month_bounds(now_us)[0]
    end_us = now_us - 120 * 1_000_000  # the last event two minutes ago
    step = max((end_us - start_us) // n, 1)
    log_dir = db.with_name("byok.usage.d")
    log_dir.mkdir(mode=0o700, exist_ok=True)

    def events(first: int, last: int) -> list[Event]:
        out = []
        for i in range(first, last):
            iid = ids[i % N_INTEGRATIONS]
            model = KINDS[(i % N_INTEGRATIONS) % len(KINDS)][1]
            inp, outp = 200 + i % 3000, 50 + i % 700
            cost = None if model.startswith("llama") else inp * 15 + outp * 60
            out.append(Event(iid, model, start_us + i * step, inp, outp, cost, f"c-{i:012d}"))
        return out

    def write(first: int, last: int) -> None:
        chunks: dict[str, list[bytes]] = {}
        for f0 in range(first, last, FRAME):
            evs = events(f0, min(f0 + FRAME, last))
            day = datetime.fromtimestamp(evs[-1].at_us / 1e6, UTC).date().isoformat()
            chunks.setdefault(day, []).append(encode_frame(TENANT, evs, [], evs[-1].at_us))
            if len(chunks[day]) >= CHUNK:
                _append(log_dir / f"{day}.jsonl", chunks.pop(day))
        for day, frames in chunks.items():
            _append(log_dir / f"{day}.jsonl", frames)

    t = time.perf_counter()
    write(0, n - tail)
    print(f"  segments written {time.perf_counter() - t:.1f} s", flush=True)
    slow = {"checkpoint_events": 10**12, "checkpoint_seconds": 10**9}
    store = open_usage_store(db.with_name("byok.usage.json"), clock=lambda: now, **slow)
    t = time.perf_counter()
    store.checkpoint()  # folds every segment into the rollups
    print(f"  folded {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    # one commit: builds the dedupe index from the log, deletes the segments past retention
    marker = Event(ids[0], KINDS[0][1], end_us, 1, 1, 1, "bench-index")
    assert not store.commit(TENANT, [marker], {}).duplicate[0]
    store.checkpoint()
    store.close()
    print(f"  indexed {time.perf_counter() - t:.1f} s", flush=True)
    write(n - tail, n)  # the tail: after the watermark (the next writer indexes it)


def _append(path: Path, frames: list[bytes]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"".join(frames))
    finally:
        os.close(fd)


def prepare(cache: Path, n: int, tail: int, env: dict[str, str]) -> Path:
    month = datetime.now(UTC).strftime("%Y-%m")
    base = cache / f"{n}-tail{tail}-{month}-periods"  # "-periods": integrations with a period
    db = base / "byok.json"
    done = base / "ready"
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        print(f"generating {n:,} events in {base} ...", flush=True)
        t = time.perf_counter()
        os.environ.update(env)
        generate(db, n, tail)
        shutil.copy2(db.with_name("byok.usage.json"), base / "rollups.saved")
        done.write_text(f"{time.perf_counter() - t:.1f} s\n")
        print(f"  generated in {done.read_text().strip()}", flush=True)
    return db


def restore(db: Path) -> None:
    shutil.copy2(db.parent / "rollups.saved", db.with_name("byok.usage.json"))


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, int, bytes]:
    """Wall time from spawn to exit, the child's peak RSS (KiB) and its stdout."""
    read_fd, write_fd = os.pipe()
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as out:
        t = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=null, pass_fds=(write_fd,),
            env=dict(env, BENCH_PEAK_FD=str(write_fd)),
        )  # fmt: skip
        os.close(write_fd)
        proc.wait()
        elapsed = time.perf_counter() - t
        with os.fdopen(read_fd, "rb") as peak:
            kib = int(peak.read() or 0)
        out.seek(0)
        text = out.read()
    if proc.returncode not in (0, 1, 2):  # byok check: allowed, warned, blocked/throttled
        raise SystemExit(f"{argv}: exit {proc.returncode}")
    return elapsed, kib, text


def measure(db: Path, ref: str, runs: int, env: dict[str, str]) -> dict[str, float]:
    check_t, check_rss, cold_t, cold_rss = [], [], [], []
    iid = _iid(db, ref)
    for _ in range(runs):
        restore(db)
        elapsed, rss, _ = run_child(
            [sys.executable, "-c", CHECK, "--db", str(db), "check", ref], env
        )
        check_t.append(elapsed)
        check_rss.append(rss)
        restore(db)
        _, rss, out = run_child([sys.executable, "-c", COLD, str(db), iid], env)
        cold_t.append(float(out.split()[0]))
        cold_rss.append(rss)
    restore(db)
    return {
        "check_ms": statistics.median(check_t) * 1e3,
        "check_rss_mb": statistics.median(check_rss) / 1024,
        "cold_ms": statistics.median(cold_t) * 1e3,
        "cold_rss_mb": statistics.median(cold_rss) / 1024,
    }


def _iid(db: Path, name: str) -> str:
    import orjson

    docs = orjson.loads(db.read_bytes())["integrations"]
    return next(d["id"] for d in docs.values() if d["name"] == name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000,10000000")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tail", type=int, default=2000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/byok-limits-scale"))
    args = ap.parse_args()
    env = _env(args.cache)
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; runs {args.runs}; "
          f"tail {args.tail:,} events after the watermark")  # fmt: skip
    rows: dict[str, list[tuple[int, dict[str, float]]]] = {period: [] for period in REFS}
    for n in sizes:
        db = prepare(args.cache, n, min(args.tail, n), env)
        for period, ref in REFS.items():
            rows[period].append((n, measure(db, ref, args.runs, env)))
    print("\n| events this month | period | `byok check REF` | its RSS | cold open + first status "
          "| its RSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for period, measured in rows.items():
        for n, m in measured:
            print(f"| {n:,} | {period} | {m['check_ms']:.0f} ms | {m['check_rss_mb']:.0f} MB | "
                  f"{m['cold_ms']:.0f} ms | {m['cold_rss_mb']:.0f} MB |")
    for period, measured in rows.items():
        if len(measured) > 1:
            (n0, a), (n1, b) = measured[0], measured[-1]
            print(f"\n{period}: {n1:,} vs {n0:,}: check {b['check_ms'] / a['check_ms']:.2f}x "
                  f"time, {b['check_rss_mb'] / a['check_rss_mb']:.2f}x RSS; cold status "
                  f"{b['cold_ms'] / a['cold_ms']:.2f}x time, "
                  f"{b['cold_rss_mb'] / a['cold_rss_mb']:.2f}x RSS  [bar <= 1.3x each]")


if __name__ == "__main__":
    main()
