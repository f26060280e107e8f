"""Benchmark: check_many over 500 integrations against the fake provider answering after 100 ms.

The fake server runs in a child process (its own GIL), on 127.0.0.1. The probing side is the real
facade on a real durable database: decrypting 500 keys, 500 HTTP probes through one shared
client, and the results stored in batched commits to the integrations file and the health log.

    /tmp/venv/bin/python bench/health.py [--n 500] [--concurrency 50] [--delay-ms 100]
        [--reps 5] [--keep]

Bars (issue 3): wall time <= 1.5 x ideal, where ideal = ceil(n / concurrency) x delay; open
connections bounded by the concurrency; RSS growth < 50 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import HealthState, IntegrationsFacade


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start_server(delay_ms: int | None = None) -> tuple[subprocess.Popen[str], int]:
    """The fake provider in a child process (answering after `delay_ms`, or at once); its port."""
    default = ["--default", f"slow:{delay_ms}"] if delay_ms is not None else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.demo.fakeprovider", *default],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return proc, ready_port(proc)


def ready_port(proc: subprocess.Popen[str]) -> int:
    """The port a fake provider child prints on its first line (`READY <port>`)."""
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise SystemExit("the fake provider did not start")
    return int(line[1])


def stats(port: int, reset: bool = False) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__fake/stats", timeout=5) as resp:
        return json.loads(resp.read())


async def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    workdir = Path(tempfile.mkdtemp(prefix="byok-bench-health-"))
    db = workdir / "byok.json"
    proc, port = start_server(args.delay_ms)
    try:
        base = f"http://127.0.0.1:{port}/openai/v1"
        setup = IntegrationsFacade(db, durable=False)
        items = [
            {
                "name": f"bench-{i}",
                "provider_type": "openai",
                "credential": f"sk-bench-{secrets.token_hex(16)}",
                "default_model": "gpt-4o",
                "config": {"base_url": base},
            }
            for i in range(args.n)
        ]
        docs = await setup.create_integrations("bench", items)
        for d in docs:
            await setup.enable_integration("bench", d.id)
        await setup.aclose()

        facade = IntegrationsFacade(
            db, probe_concurrency=args.concurrency, durable=not args.no_fsync
        )
        commits = {"byok.json": 0, "byok.health.d": 0}
        store = facade.context.store
        original = store._commit

        def counted(data: object) -> None:
            commits["byok.json"] += 1
            original(data)

        store._commit = counted  # type: ignore[method-assign]
        log = facade._health.log
        append = log._append

        def appended(path: Path, data: bytes, created: bool) -> None:
            commits["byok.health.d"] += 1
            append(path, data, created)

        log._append = appended  # type: ignore[method-assign]
        ideal = math.ceil(args.n / args.concurrency) * args.delay_ms / 1000
        rss0 = rss_mb()
        walls: list[float] = []
        for rep in range(args.reps):
            before = dict(commits)
            started = time.perf_counter()
            results = [r async for r in facade.check_many("bench", concurrency=args.concurrency)]
            wall = time.perf_counter() - started
            walls.append(wall)
            healthy = sum(r.health_state == HealthState.HEALTHY for r in results)
            s = stats(port)
            print(
                f"rep {rep + 1}: {len(results)} probes ({healthy} healthy) in {wall:.3f} s "
                f"= {wall / ideal:.2f} x ideal; server max open connections so far "
                f"{s['max_open_connections']}; commits integrations "
                f"{commits['byok.json'] - before['byok.json']}, health log "
                f"{commits['byok.health.d'] - before['byok.health.d']}",
                flush=True,
            )
            if healthy != args.n:
                reasons = collections.Counter(r.reason for r in results)
                lat = sorted(r.latency_ms or 0 for r in results)
                print(
                    f"  not all healthy ({dict(reasons)}; latency p50 {lat[len(lat) // 2]} ms, "
                    f"max {lat[-1]} ms): the benchmark is invalid",
                    flush=True,
                )
                return 1
        rss1 = rss_mb()
        s = stats(port)
        await facade.aclose()
        med = statistics.median(walls)
        print()
        print(
            f"n={args.n} concurrency={args.concurrency} delay={args.delay_ms} ms reps={args.reps}"
        )
        print(
            f"ideal (floor) {ideal:.3f} s; median wall {med:.3f} s = {med / ideal:.2f} x ideal "
            f"(bar 1.5 x); min {min(walls):.3f} s, max {max(walls):.3f} s"
        )
        print(
            f"server: max open connections {s['max_open_connections']} "
            f"(bound {args.concurrency}), total connections {s['total_connections']}"
        )
        print(f"RSS: {rss0:.1f} MB -> {rss1:.1f} MB, growth {rss1 - rss0:.1f} MB (bar 50 MB)")
        ok = med <= 1.5 * ideal and s["max_open_connections"] <= args.concurrency
        ok = ok and (rss1 - rss0) < 50
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(workdir)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument("--no-fsync", action="store_true", help="durable=False (diagnosis only)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
