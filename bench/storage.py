"""Foundation benchmark: open, filtered page, durable create/update.

    python bench/storage.py [--integrations 10000] [--writes-at 1000] [--runs 200]

Bars (issue 2, on the 2-core machine): opening a 10,000-integration database <= 300 ms; a filtered
page of 50 <= 20 ms median; a single durable create or update <= 25 ms median at 1,000.
It also measures the floors: JSON parse and serialise of the same file, and one write+fsync+rename
of a file that size, so each figure can be read against what it cannot go below.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())

from timing import time_async

from core import IntegrationsFacade

TENANT = "bench"
PROVIDERS = ["openai", "anthropic", "google", "mistral", "groq", "deepseek", "ollama"]


def items(n: int, start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        kind = PROVIDERS[i % len(PROVIDERS)]
        out.append(
            {
                "name": f"team-{i // 50:03d}-{kind}-{i}",
                "provider_type": kind,
                "credential": ""
                if kind == "ollama"
                else f"sk-bench-{i:08d}-abcdefghijklmnopqrstuvwxyz",
                "default_model": f"model-{i % 17}",
                "budget_limit_cents": (i % 10) * 1000,
                "token_limit_month": (i % 7) * 1_000_000,
                "rate_limit_rpm": (i % 5) * 60,
            }
        )
    return out


async def build(path: Path, n: int) -> IntegrationsFacade:
    f = IntegrationsFacade(path)
    for chunk in range(0, n, 2000):
        await f.create_integrations(TENANT, items(min(2000, n - chunk), chunk))
    return f


def ms(samples: list[float]) -> str:
    s = sorted(samples)
    return (
        f"median {statistics.median(s) * 1e3:7.2f} ms  p90 {s[int(len(s) * 0.9)] * 1e3:7.2f} ms"
        f"  min {s[0] * 1e3:7.2f} ms  (n={len(s)})"
    )


def floor_write(path: Path, raw: bytes, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        tmp = path.with_suffix(".floor.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, raw)
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, path.with_suffix(".floor"))
        dfd = os.open(path.parent, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        out.append(time.perf_counter() - t0)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--integrations", type=int, default=10_000)
    ap.add_argument("--writes-at", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="byok-bench-"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, files in {work}")

    big = work / "big" / "byok.json"
    t0 = time.perf_counter()
    await build(big, args.integrations)
    size = big.stat().st_size
    print(
        f"\n== {args.integrations} integrations, file {size / 1e6:.1f} MB "
        f"(built in {time.perf_counter() - t0:.1f} s)"
    )

    opens = []
    for _ in range(15):
        t0 = time.perf_counter()
        f = IntegrationsFacade(big)
        await f.list_integrations(TENANT, limit=50)
        opens.append(time.perf_counter() - t0)
        await f.aclose()
    print(f"open + first page      {ms(opens)}   bar <= 300 ms")
    raw = big.read_bytes()
    parse = []
    for _ in range(15):
        t0 = time.perf_counter()
        orjson.loads(raw)
        parse.append(time.perf_counter() - t0)
    print(f"  floor: orjson.loads  {ms(parse)}")

    f = IntegrationsFacade(big)
    await f.list_integrations(TENANT)
    queries = [
        {"search": "team-01"},
        {"search": "anthropic"},
        {"provider_type": "openai"},
        {"status": "created", "search": "model-3"},
        {"search": "gemini", "offset": 50},
    ]
    samples = []
    for i in range(args.runs):
        q = queries[i % len(queries)]
        t0 = time.perf_counter()
        page = await f.list_integrations(TENANT, limit=50, **q)
        samples.append(time.perf_counter() - t0)
        assert page.total > 0 and len(page.items) <= 50
    print(f"filtered page of 50    {ms(samples)}   bar <= 20 ms")
    unfiltered = await time_async(lambda: f.list_integrations(TENANT, limit=50), args.runs)
    print(f"unfiltered page of 50  {ms(unfiltered)}")
    await f.aclose()

    small = work / "small" / "byok.json"
    g = await build(small, args.writes_at)
    size = small.stat().st_size
    print(f"\n== durable writes at {args.writes_at} integrations, file {size / 1e3:.0f} KB")
    counter = iter(range(10**9))
    creates = await time_async(
        lambda: g.create_integration(TENANT, **items(1, 10**6 + next(counter))[0]), args.runs
    )
    print(f"create (durable)       {ms(creates)}   bar <= 25 ms")
    target = (await g.list_integrations(TENANT, limit=1)).items[0].id
    updates = await time_async(
        lambda: g.update_integration(TENANT, target, budget_limit_cents=next(counter)), args.runs
    )
    print(f"update (durable)       {ms(updates)}   bar <= 25 ms")
    raw = small.read_bytes()
    dumps = []
    for _ in range(50):
        data = orjson.loads(raw)
        t0 = time.perf_counter()
        orjson.dumps(data)
        dumps.append(time.perf_counter() - t0)
    print(f"  floor: orjson.dumps  {ms(dumps)}")
    print(f"  floor: write+fsync+rename+dir fsync {ms(floor_write(small, raw, 50))}")
    await g.aclose()


if __name__ == "__main__":
    asyncio.run(main())
