"""Benchmark: `byok watch`'s metrics scrape at 1,000 and 10,000 integrations, and the watcher's
CPU and memory with 1,000 integrations probed every 5 minutes.

    python bench/watch.py [--sizes 1000,10000] [--scrapes 30] [--idle-s 60]

Scrape: the watcher renders the exposition after a change (a refresh) and a scrape serves those
bytes, so a scrape costs an HTTP exchange whatever the size; the refresh is where the size shows.
A refresh re-reads rows, limits and decisions only when their files changed; otherwise only the
limits of integrations with calls in the rolling minute (here: every one, at first, as the
set-up recorded a call each), then nothing once the clock is past that minute. The first
rendering has prometheus-client render every integration; the later ones none (nothing
changed). All are timed, with the CPU of the watcher's process per scrape. The floor: an HTTP
GET of a tiny page from a server in the same process.

Idle: a real `byok watch` process (a fresh child) on 1,000 integrations against the fake
provider (a child process of its own): the CPU of one probe round of all 1,000 (they are stale
at start), then the CPU per second while nothing is stale, for --idle-s. The cost of probing
every 5 minutes is (round CPU + 300 s x idle CPU rate) / 300 s. RSS: VmRSS and VmHWM at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from health import start_server  # noqa: E402  (bench/health.py, beside this script)

from core import IntegrationsFacade  # noqa: E402
from core.watch.metrics import Metrics, MetricsServer  # noqa: E402
from core.watch.service import Watcher, WatchOptions  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


async def build(db: Path, n: int, port: int) -> None:
    """n enabled integrations with budgets and a month of usage, probed once (healthy)."""
    facade = IntegrationsFacade(db, durable=False)
    items = [
        {
            "name": f"svc-{i:05d}",
            "provider_type": "openai",
            "credential": f"sk-bench-{secrets.token_hex(16)}",
            "default_model": "gpt-4o",
            "budget_limit_cents": 10_000,
            "token_limit_month": 5_000_000,
            "rate_limit_rpm": 500,
            "config": {"base_url": f"http://127.0.0.1:{port}/openai/v1"},
        }
        for i in range(n)
    ]
    for start in range(0, n, 1000):
        await facade.create_integrations("default", items[start : start + 1000])
    # enabled in one commit (enable_integration rewrites the file each time: O(n^2) set-up)
    with facade.context.store.transaction() as db:
        data = db.storage.read()
        for doc in data["integrations"].values():
            doc["status"] = "enabled"
        db.storage.write(data)
    ids = [r.id for r in facade.dashboard.rows("default")]
    await facade.record_usage_batch(
        "default",
        [
            {
                "integration_id": iid,
                "model": "gpt-4o",
                "input_tokens": 1000,
                "output_tokens": 200,
                "cost_cents": 3.5,
            }
            for iid in ids
        ],
    )
    async for _ in facade.check_many("default", concurrency=50):
        pass
    await facade.aclose()


def cpu_s(pid: int | None = None) -> float:
    path = f"/proc/{pid or 'self'}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def floor_server() -> tuple[ThreadingHTTPServer, str]:
    class Tiny(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Tiny)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


def median_ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.1f} ms"


async def scrape_row(db: Path, n: int, scrapes: int) -> None:
    # The build recorded a call per integration just now: while those are in the rolling
    # minute every rendering re-reads the limits; then the clock moves past it.
    skew = [0.0]
    facade = IntegrationsFacade(
        db, durable=False, clock=lambda: datetime.now(UTC) + timedelta(seconds=skew[0])
    )
    metrics = Metrics()
    server = MetricsServer(metrics, "127.0.0.1", 0)
    server.start()
    watcher = Watcher(facade, {}, WatchOptions(), metrics)
    refresh: list[float] = []
    refresh_cpu: list[float] = []
    for i in range(10):
        if i == 5:
            skew[0] = 120.0
            await watcher.refresh_metrics(True)  # the one re-read the minute's end asks for
        t, c = time.perf_counter(), cpu_s()
        await watcher.refresh_metrics(True)
        refresh.append(time.perf_counter() - t)
        refresh_cpu.append(cpu_s() - c)
    url = f"http://127.0.0.1:{server.address[1]}/metrics"
    httpd, floor_url = floor_server()
    walls, floors = [], []
    body = b""
    c0 = cpu_s()
    for _ in range(scrapes):
        t = time.perf_counter()
        body = await asyncio.to_thread(get, url)
        walls.append(time.perf_counter() - t)
        t = time.perf_counter()
        await asyncio.to_thread(get, floor_url)
        floors.append(time.perf_counter() - t)
    cpu_per = (cpu_s() - c0) / scrapes / 2  # the floor's GETs cost about the same again
    httpd.shutdown()
    server.stop()
    await watcher._finish()
    await facade.aclose()
    lines = sum(1 for line in body.splitlines() if not line.startswith(b"#"))
    print(
        f"| {n:,} | {median_ms(walls)} (floor {median_ms(floors)}) | "
        f"<= {cpu_per * 1000:.1f} ms | {len(body) / 1024:.0f} KiB, {lines:,} samples | "
        f"{refresh[0] * 1000:.0f} ms ({refresh_cpu[0] * 1000:.0f} ms CPU) | "
        f"{statistics.median(refresh[1:5]) * 1000:.0f} ms "
        f"({statistics.median(refresh_cpu[1:5]) * 1000:.0f} ms CPU) | "
        f"{statistics.median(refresh[5:]) * 1000:.0f} ms "
        f"({statistics.median(refresh_cpu[5:]) * 1000:.0f} ms CPU) |",
        flush=True,
    )


def watch_argv(db: Path, probe_every: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli.main", "--db", str(db), "watch", "--probe-every",
            probe_every, "--metrics", "off", "--log-json"]  # fmt: skip


def idle(db: Path, idle_s: float) -> None:
    # One round of probes: with --probe-every 0.05 every integration is stale at the start; the
    # CPU is counted from the "watching" line (imports done) to the "probed" line.
    first = subprocess.Popen(watch_argv(db, "0.05"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    assert first.stderr is not None
    c_start, t0 = 0.0, time.perf_counter()
    for line in first.stderr:
        if '"watching' in line:
            c_start, t0 = cpu_s(first.pid), time.perf_counter()
        if '"probed' in line:
            break
    round_cpu, round_wall = cpu_s(first.pid) - c_start, time.perf_counter() - t0
    first.terminate()
    first.wait()
    # Then a watcher as deployed: nothing is stale for 5 minutes.
    proc = subprocess.Popen(watch_argv(db, "300"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=ROOT)  # fmt: skip
    time.sleep(10)  # start-up: imports, the first round's metrics
    c0, t1 = cpu_s(proc.pid), time.perf_counter()
    time.sleep(idle_s)
    rate = (cpu_s(proc.pid) - c0) / (time.perf_counter() - t1)
    rss, hwm = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "VmHWM")
    proc.terminate()
    proc.wait()
    amortised = (round_cpu + 300 * rate) / 300
    print(
        f"probe round of 1,000: {round_cpu:.2f} s CPU, {round_wall:.1f} s wall\n"
        f"idle between rounds ({idle_s:g} s): {rate * 100:.2f} % of a core\n"
        f"probing every 5 minutes: {amortised * 100:.2f} % of a core on average\n"
        f"RSS {rss / 1024:.0f} MB (peak {hwm / 1024:.0f} MB)"
    )


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--idle-s", type=float, default=60)
    args = parser.parse_args()
    os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    fake, port = start_server()
    work = Path(tempfile.mkdtemp(prefix="byok-bench-watch-"))
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        print(
            "| integrations | scrape (median) | watcher CPU per scrape | body | first rendering "
            "| a rendering, every one with a call in the last minute (median) "
            "| a rendering, nothing changed (median) |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for n in sizes:
            db = work / f"db{n}" / "byok.json"
            await build(db, n, port)
            await scrape_row(db, n, args.scrapes)
        print()
        idle(work / "db1000" / "byok.json" if 1000 in sizes else db, args.idle_s)
    finally:
        fake.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
