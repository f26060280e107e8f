"""Reliability with real processes: SIGKILL at random instants loses no acknowledged write and
leaves no torn file; several writers at once lose no update."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import IntegrationsFacade

# Under `-n`, these tests run one after another on one worker: each keeps child processes busy
# and kills them at chosen instants, and two of them at once would starve each other's children.
pytestmark = pytest.mark.xdist_group("kill-children")

T = "acme"

# Creates and updates in a loop; prints a line only after each call has returned (acknowledged).
WRITER = r"""
import asyncio, sys
from core import IntegrationsFacade

async def main(db, tag):
    f = IntegrationsFacade(db)
    i = 0
    while True:
        d = await f.create_integration("acme", name=f"{tag}-{i}", provider_type="ollama")
        print("C", d.id, flush=True)
        await f.update_integration("acme", d.id, budget_limit_cents=i + 1)
        print("U", d.id, i + 1, flush=True)
        i += 1

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _spawn(db: Path, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )


def _acks(lines: list[str]) -> tuple[set[str], dict[str, int]]:
    created, budgets = set(), {}
    for line in lines:
        parts = line.split()
        if parts and parts[0] == "C" and len(parts) == 2:
            created.add(parts[1])
        elif parts and parts[0] == "U" and len(parts) == 3:
            budgets[parts[1]] = int(parts[2])
    return created, budgets


def test_sigkill_at_random_instants_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    rng = random.Random(20261127)
    all_created: set[str] = set()
    all_budgets: dict[str, int] = {}
    kills = 25
    for round_ in range(kills):
        proc = _spawn(db, f"r{round_}")
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the child is up and writing
        assert first.startswith("C"), proc.stderr.read() if proc.stderr else first
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        created, budgets = _acks([first, *rest.splitlines()])
        all_created |= created
        all_budgets.update(budgets)
        # the file is whole JSON after every kill, never torn
        json.loads(db.read_bytes())
    assert len(all_created) >= kills
    f = IntegrationsFacade(db)
    stored = {i.id: i for i in asyncio.run(f.list_integrations(T, limit=1000)).items}
    missing = all_created - stored.keys()
    assert not missing, f"{len(missing)} acknowledged creates lost"
    for iid, budget in all_budgets.items():
        assert stored[iid].budget_limit_cents >= budget, "an acknowledged update was lost"
    # the next writer cleans up any temp file a killed writer left
    asyncio.run(f.create_integration(T, name="after", provider_type="ollama"))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


CONCURRENT = r"""
import asyncio, sys
from core import IntegrationsFacade

async def main(db, tag, n):
    f = IntegrationsFacade(db)
    mine = await f.create_integration("acme", name=f"{tag}-own", provider_type="ollama")
    for i in range(n):
        await f.create_integration("acme", name=f"{tag}-{i}", provider_type="ollama")
        await f.update_integration("acme", mine.id, token_limit_month=i + 1)
    print(mine.id)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    IntegrationsFacade(db)
    writers, per = 4, 20
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(db), f"w{w}", str(per)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for w in range(writers)
    ]
    own_ids = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        own_ids.append(out.strip())
    f = IntegrationsFacade(db)
    listing = asyncio.run(f.list_integrations(T, limit=1000))
    names = {i.name for i in listing.items}
    assert listing.total == writers * (per + 1)
    assert names == {f"w{w}-{i}" for w in range(writers) for i in range(per)} | {
        f"w{w}-own" for w in range(writers)
    }
    for iid in own_ids:
        assert asyncio.run(f.get_integration(T, iid)).token_limit_month == per
