"""Benchmark: a durable create as the integrations file grows, a row per size.

    python bench/create_scale.py [--sizes 1000,5000,10000,20000,50000] [--runs 5]

Every durable write re-reads, re-serialises and fsyncs the whole file: this finds the size at
which a create passes 100 ms (issue 14: where the single file ends).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())

from timing import time_async

from core import IntegrationsFacade


def _creator(f: IntegrationsFacade, size: int) -> Callable[[], Awaitable[object]]:
    names = iter(range(1_000_000))
    return lambda: f.create_integration("t", name=f"x{size}-{next(names)}", provider_type="ollama")


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="byok-bench-create-"))
    db = work / "byok.json"
    have = 0
    print("| integrations | file MB | durable create, median ms |\n| --- | --- | --- |")
    try:
        for size in (int(x) for x in args.sizes.split(",")):
            setup = IntegrationsFacade(db, durable=False)
            for start in range(have, size, 5000):
                stop = min(size, start + 5000)
                await setup.create_integrations(
                    "t", [{"name": f"f{i}", "provider_type": "ollama"} for i in range(start, stop)]
                )
            await setup.aclose()
            f = IntegrationsFacade(db)
            await f.list_integrations("t")  # opened and parsed once, as a running process is
            times = await time_async(_creator(f, size), args.runs)
            await f.aclose()
            have = size + args.runs
            mb = db.stat().st_size / 1e6
            print(f"| {size:,} | {mb:.1f} | {statistics.median(times) * 1000:.0f} |", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,5000,10000,20000,50000")
    ap.add_argument("--runs", type=int, default=5)
    asyncio.run(main(ap.parse_args()))
