"""Benchmark: where the single integrations file ends, a row per size.

    python bench/single_file.py [--sizes 1000,5000,10000,20000,50000] [--runs 5]

Every durable write re-reads, re-serialises and fsyncs the whole file, and every fresh process
parses all of it. Per size this measures what grows with the file (issue 14): a durable create in
a running process (bar 100 ms), `byok list --json` in a fresh process (bar 1 s) and the console's
first full paint in a fresh process (bar 1.5 s), beside their floors in the same run (importing
the facade; a bare Textual app), and prints the size at which each passes its bar.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())

import itertools

import console
from timing import time_async

from core import IntegrationsFacade

BYOK = [sys.executable, "-m", "tui.cli.main"]
BARS = {"create": 0.1, "list": 1.0, "paint": 1.5}


def _creator(f: IntegrationsFacade, size: int) -> Callable[[], Awaitable[object]]:
    names = iter(range(1_000_000))
    return lambda: f.create_integration(
        console.TENANT, name=f"x{size}-{next(names)}", provider_type="ollama"
    )


def _item(i: int) -> dict[str, object]:
    return {
        "name": f"svc-{i:06d}",
        "provider_type": "ollama",
        "config": {"base_url": "http://127.0.0.1:9"},
        "default_model": "llama3.1",
        "budget_limit_cents": 10_000 + i,
        "token_limit_month": 1_000_000,
        "rate_limit_rpm": 60,
    }


def _fresh(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=console.CHILD_ENV)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def _paint(db: Path, runs: int) -> float:
    return statistics.median(console.spawn(["console", str(db), "0"])[0] for _ in range(runs))


def _crossing(rows: list[tuple[int, float]], bar: float) -> str:
    """The size at which a cost passes `bar`, interpolated linearly between measured sizes."""
    for (n0, v0), (n1, v1) in itertools.pairwise(rows):
        if v0 <= bar < v1:
            return f"~{n0 + (bar - v0) / (v1 - v0) * (n1 - n0):,.0f}"
    if rows and rows[0][1] > bar:
        return f"below {rows[0][0]:,}"
    return f"above {rows[-1][0]:,}" if rows else "?"


async def _grow(db: Path, have: int, size: int) -> None:
    setup = IntegrationsFacade(db, durable=False)
    for start in range(have, size, 5000):
        await setup.create_integrations(
            console.TENANT, [_item(i) for i in range(start, min(size, start + 5000))]
        )
    await setup.aclose()


async def _create(db: Path, size: int, runs: int) -> float:
    f = IntegrationsFacade(db)
    await f.list_integrations(console.TENANT)  # opened and parsed once, as a running process is
    times = await time_async(_creator(f, size), runs)
    await f.aclose()
    return statistics.median(times)


def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="byok-bench-file-"))
    db = work / "byok.json"
    console.use_bytecode_cache(work / "pycache")
    env_db = ["--db", str(db)]
    have = 0
    rows: dict[str, list[tuple[int, float]]] = {k: [] for k in BARS}
    try:
        _fresh([sys.executable, "-c", "from core import IntegrationsFacade"], 1)  # compile
        console.spawn(["bare"])
        facade = _fresh([sys.executable, "-c", "from core import IntegrationsFacade"], args.runs)
        bare = statistics.median(console.spawn(["bare"])[0] for _ in range(args.runs))
        print(
            f"floors: importing the facade {facade * 1e3:.0f} ms; a bare Textual app to first"
            f" paint {bare * 1e3:.0f} ms; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}"
        )
        print("| integrations | file MB | durable create | `byok list --json` | first paint |")
        print("| --- | --- | --- | --- | --- |", flush=True)
        for size in (int(x) for x in args.sizes.split(",")):
            asyncio.run(_grow(db, have, size))
            have = size
            mb = db.stat().st_size / 1e6
            listed = _fresh([*BYOK, *env_db, "list", "--json"], args.runs)
            painted = _paint(db, args.runs)
            created = asyncio.run(_create(db, size, args.runs))
            have += args.runs
            for key, value in (("create", created), ("list", listed), ("paint", painted)):
                rows[key].append((size, value))
            print(f"| {size:,} | {mb:.1f} | {created * 1e3:.0f} ms | {listed * 1e3:.0f} ms |"
                  f" {painted * 1e3:.0f} ms |", flush=True)  # fmt: skip
        for key, bar in BARS.items():
            print(f"{key}: passes {bar * 1e3:.0f} ms at {_crossing(rows[key], bar)} integrations")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,5000,10000,20000,50000")
    ap.add_argument("--runs", type=int, default=5)
    main(ap.parse_args())
