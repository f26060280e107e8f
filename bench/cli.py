"""The `byok` command's latency as a script, cron job or monitoring check sees it: a fresh
process per call, measured from spawn to exit.

    python bench/cli.py [--integrations 1000] [--runs 15]

Bars (issue 6, on the 2-core machine): `byok check REF` and `byok list --json` <= 1 s median at
1,000 integrations, so a monitoring check every minute is cheap. The floors are measured too: the
bare interpreter, `import core` (lazy: it loads what a name needs when the name is used) and
importing the facade (pydantic and its result models); the difference to a command is what the
command itself costs. httpx loads only for `byok test`, cryptography only to open a key.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())

from core import IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer

BYOK = [sys.executable, "-m", "tui.cli.main"]


def fmt(samples: list[float]) -> str:
    s = sorted(samples)
    return (
        f"median {statistics.median(s) * 1e3:7.1f} ms  p90 {s[int(len(s) * 0.9)] * 1e3:7.1f} ms"
        f"  min {s[0] * 1e3:7.1f} ms  (n={len(s)})"
    )


def timed(argv: list[str], runs: int, expect: int = 0) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, env=os.environ)
        out.append(time.perf_counter() - t0)
        if proc.returncode != expect:
            raise SystemExit(f"{argv}: exit {proc.returncode}: {proc.stderr.decode()[:300]}")
    return out


async def build(path: Path, n: int, base_url: str) -> str:
    f = IntegrationsFacade(path)
    try:
        for start in range(0, n, 2000):
            await f.create_integrations(
                "default",
                [
                    {
                        "name": f"int-{i:05d}",
                        "provider_type": "openai",
                        "credential": f"sk-bench-{i:08d}-abcdefghijklmnopqrstuv",
                        "default_model": "gpt-4o-mini",
                        "config": {"base_url": base_url},
                        "budget_limit_cents": 10_000,
                    }
                    for i in range(start, min(n, start + 2000))
                ],
            )
        return "int-00007"
    finally:
        await f.aclose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--integrations", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="byok-bench-cli-"))
    server = FakeProviderServer().start()
    try:
        db = tmp / "byok.json"
        ref = asyncio.run(build(db, args.integrations, server.base_url_for("openai")))
        size = db.stat().st_size / 1e6
        print(f"{args.integrations} integrations, {size:.1f} MB; {args.runs} runs each; "
              f"{os.cpu_count()} cores; python {sys.version.split()[0]}")  # fmt: skip
        rows = [
            ("floor: python -c pass", [sys.executable, "-c", "pass"], 0),
            ("floor: import core (lazy)", [sys.executable, "-c", "import core"], 0),
            (
                "floor: import the facade",
                [sys.executable, "-c", "from core import IntegrationsFacade"],
                0,
            ),
            ("byok --version", [*BYOK, "--version"], 0),
            ("byok list --json", [*BYOK, "--db", str(db), "list", "--json"], 0),
            ("byok show REF (by name)", [*BYOK, "--db", str(db), "show", ref], 0),
            ("byok check REF", [*BYOK, "--db", str(db), "check", ref], 0),
            ("byok limits REF", [*BYOK, "--db", str(db), "limits", ref], 0),
            ("byok test REF (fake provider)", [*BYOK, "--db", str(db), "test", ref], 0),
        ]
        medians = {}
        for label, argv, expect in rows:
            samples = timed(argv, args.runs, expect)
            medians[label] = statistics.median(samples)
            print(f"{label:32s} {fmt(samples)}")
        bar = 1.0
        worst = max(medians["byok check REF"], medians["byok list --json"])
        print(f"bar: check and list <= {bar * 1e3:.0f} ms median -> "
              f"{'PASS' if worst <= bar else 'FAIL'} ({worst * 1e3:.0f} ms)")  # fmt: skip
        return 0 if worst <= bar else 1
    finally:
        server.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
