"""The health log's segment files: append, retention, rotation and compaction, the migration of
the old single-file log, torn appends (SIGKILL) and several processes appending at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.errors import StoreError
from core.health.log import HealthLog, encode

T = "t1"
HERE = Path(__file__).parent


def entry(iid: str, n: int, tenant: str = T) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "integration_id": iid,
        "integration_name": f"name-{iid}",
        "provider_type": "openai",
        "health_state": "healthy",
        "reason": "ok",
        "message": f"probe {n}",
        "latency_ms": 100,
        "http_status": 200,
        "checked_at": f"2026-05-01T00:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}Z"[:27],
        "deep": False,
        "seq": n,
    }


def messages(log: HealthLog, iid: str | None = None, limit: int = 10_000) -> list[str]:
    return [e.message or "" for e in log.read(T, iid, limit=limit)]


def on_disk(log: HealthLog) -> list[Path]:
    return sorted(p for p in log.dir.iterdir() if p.suffix == ".jsonl")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "byok.health.json"


def test_append_read_newest_first_tenant_scoped(path: Path) -> None:
    log = HealthLog(path)
    assert log.read(T) == []
    assert log.append_many([entry("a", 1), entry("b", 2), entry("c", 3, tenant="t2")]) == 3
    assert log.append_many([]) == 0
    log.append_many([entry("a", 4)])
    assert messages(log) == ["probe 4", "probe 2", "probe 1"]
    assert messages(log, "a", limit=1) == ["probe 4"]
    assert [e.integration_id for e in log.read("t2")] == ["c"]
    assert log.read(T, "c") == []  # another tenant's integration
    assert not path.exists()  # the old single file is never written
    [segment] = on_disk(log)
    assert segment.name == "000000000001-000000000001.jsonl"
    assert segment.read_bytes().count(b"\n") == 4


def test_retention_is_per_integration_and_compaction_keeps_what_reads_see(path: Path) -> None:
    log = HealthLog(path, retention=5, segment_bytes=1500, compact_bytes=3000)
    for n in range(400):
        log.append_many([entry("a", n), entry(f"b{n % 3}", n)])
        if n % 50 == 49:
            assert messages(log, "a") == [f"probe {k}" for k in range(n, n - 5, -1)]
    assert messages(log, "a") == [f"probe {k}" for k in range(399, 394, -1)]
    assert len(messages(log)) == 5 + 3 * 5
    files = on_disk(log)
    # 800 entries of ~330 bytes went in: compaction left a bounded few files
    assert sum(p.stat().st_size for p in files) <= 2 * 3000 + 2 * 1500
    assert 2 <= len(files) <= 6
    first, last = files[0].stem.split("-")
    assert int(first) == 1 and int(last) > 1  # the compacted range, named by what it covers
    reopened = HealthLog(path, retention=5)
    assert messages(reopened) == messages(log)


def test_compaction_output_listed_with_its_inputs_is_read_once(path: Path) -> None:
    """Between a compaction's rename and its deletes both are listed: a reader takes the wide
    range, not the entries twice."""
    log = HealthLog(path, retention=100)
    log.append_many([entry("a", 1)])
    log.dir.joinpath("000000000002-000000000002.jsonl").write_bytes(encode(entry("a", 2)))
    both = encode(entry("a", 1)) + encode(entry("a", 2))
    log.dir.joinpath("000000000001-000000000002.jsonl").write_bytes(both)
    log.dir.joinpath("000000000003-000000000003.jsonl").write_bytes(encode(entry("a", 3)))
    assert messages(log) == ["probe 3", "probe 2", "probe 1"]


def test_torn_and_damaged_lines_are_skipped_and_the_next_append_cuts_the_tail(
    path: Path,
) -> None:
    log = HealthLog(path)
    log.append_many([entry("a", 1)])
    [segment] = on_disk(log)
    good = encode(entry("a", 2))
    with open(segment, "ab") as fh:
        fh.write(good[:-1].replace(b"probe 2", b"probe X") + b"\n")  # checksum fails
        fh.write(good[: len(good) // 2])  # a torn append: no newline
    assert messages(log) == ["probe 1"]
    log.append_many([entry("a", 3)])
    assert messages(log) == ["probe 3", "probe 1"]
    assert segment.read_bytes().endswith(b"\n" + encode(entry("a", 3)))


def _old_file(path: Path, entries: list[dict[str, Any]]) -> bytes:
    log: dict[str, Any] = {}
    for e in entries:
        doc = log.setdefault(e["integration_id"], {"tenant_id": e["tenant_id"], "entries": []})
        doc["entries"].append({k: v for k, v in e.items() if k != "tenant_id"})
    raw = orjson.dumps({"_meta": {"1": {"schema": 1, "app": "byok-console"}}, "log": log})
    path.write_bytes(raw)
    return raw


def test_an_old_single_file_log_is_migrated_on_first_use(path: Path) -> None:
    _old_file(path, [entry("a", 1), entry("b", 2), entry("a", 3), entry("c", 4, tenant="t2")])
    path.with_name(path.name + ".lock").write_bytes(b"")
    log = HealthLog(path, retention=500)
    assert messages(log) == ["probe 3", "probe 2", "probe 1"]  # a read migrates
    assert not path.exists() and not path.with_name(path.name + ".lock").exists()
    [segment] = on_disk(log)
    assert segment.name == "000000000000-000000000000.jsonl"
    log.append_many([entry("a", 5)])
    assert messages(log, "a") == ["probe 5", "probe 3", "probe 1"]
    assert [e.integration_id for e in HealthLog(path).read("t2")] == ["c"]


def test_a_migration_interrupted_before_removing_the_old_file_is_not_repeated(
    path: Path,
) -> None:
    entries = [entry("a", 1), entry("a", 2)]
    _old_file(path, entries)
    HealthLog(path).read(T)
    _old_file(path, entries)  # as if killed after the segment was renamed in
    log = HealthLog(path)
    log.append_many([entry("a", 3)])
    assert messages(log) == ["probe 3", "probe 2", "probe 1"]
    assert not path.exists()


def test_a_damaged_old_file_is_a_store_error_and_left_untouched(path: Path) -> None:
    path.write_bytes(b'{"log": {"x": {"entries": 5}}}')
    for append in (False, True):
        with pytest.raises(StoreError) as e:
            HealthLog(path).append_many([entry("a", 1)]) if append else HealthLog(path).read(T)
        assert str(path) in str(e.value)
    assert path.read_bytes() == b'{"log": {"x": {"entries": 5}}}'


APPENDER = r"""
import sys
from core.health.log import HealthLog
sys.path.insert(0, sys.argv[4])
from test_health_log_segments import entry
log = HealthLog(sys.argv[1], retention=100000, segment_bytes=int(sys.argv[3]), compact_bytes=4000)
tag, n = sys.argv[2], 0
while True:
    log.append_many([entry(f"{tag}{n % 7}", n), entry(f"{tag}x", n)])
    print(n, flush=True)
    n += 1
    if n == 150 and tag != "k":
        break
"""


def _appender(path: Path, tag: str, segment_bytes: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(path), tag, str(segment_bytes), str(HERE)],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.xdist_group("kill-children")
def test_sigkill_mid_append_loses_no_acknowledged_entry_and_breaks_no_read(path: Path) -> None:
    for round_ in range(3):
        proc = _appender(path, "k", 1 << 20)
        assert proc.stdout is not None
        acked = [proc.stdout.readline()]
        time.sleep(0.05 + 0.07 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        acked += out.splitlines()
        last = max(int(x) for x in acked if x.strip())
        log = HealthLog(path, retention=100000)
        seen = {e.message for e in log.read(T, "kx", limit=10_000)}
        assert {f"probe {n}" for n in range(last + 1)} <= seen
    # the next writer continues on a clean line
    log = HealthLog(path, retention=100000)
    log.append_many([entry("after", 1)])
    assert messages(log, "after") == ["probe 1"]
    for segment in on_disk(log):
        assert segment.read_bytes().endswith(b"\n")


@pytest.mark.xdist_group("kill-children")
def test_several_processes_append_compact_and_read_at_once(path: Path) -> None:
    procs = [_appender(path, tag, 2000) for tag in ("p", "q", "r")]
    reader = HealthLog(path, retention=100000)
    while any(p.poll() is None for p in procs):
        for e in [reader.read(T, limit=10_000)]:  # never twice the same entry, mid-compaction
            keys = [(x.integration_id, x.message) for x in e]
            assert len(keys) == len(set(keys))
        time.sleep(0.02)
    for p in procs:
        p.communicate()
        assert p.returncode == 0
    for tag in "pqr":
        assert messages(reader, f"{tag}x") == [f"probe {n}" for n in range(149, -1, -1)]
    assert len(reader.read(T, limit=10_000)) == 3 * 300
    assert len(on_disk(reader)) < 3 * 300 * 330 // 2000  # compaction ran
