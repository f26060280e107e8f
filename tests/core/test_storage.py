"""The storage's promises: atomic commits, 0600/0700, schema version, corrupt files refused and
left alone, and what another process committed is seen."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tinydb.table import Document

from core import IntegrationsFacade, StoreError
from core.storage import AtomicJSONStorage

T = "acme"


def test_new_file_and_dir_modes(tmp_path: Path) -> None:
    db = tmp_path / "new-dir" / "byok.json"
    IntegrationsFacade(db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(str(db) + ".lock").stat().st_mode) == 0o600


async def test_mode_stays_0600_after_writes(facade: IntegrationsFacade) -> None:
    os.chmod(facade.db_path, 0o644)  # someone loosened it; our next commit is a new 0600 file
    await facade.create_integration(T, name="a", provider_type="ollama")
    assert stat.S_IMODE(facade.db_path.stat().st_mode) == 0o600


def test_schema_version_recorded(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    IntegrationsFacade(db)
    assert json.loads(db.read_text())["_meta"]["1"]["schema"] == 1


def test_file_is_a_tinydb_database(tmp_path: Path) -> None:
    """TinyDB's own JSONStorage reads our file: the format is TinyDB's (string document ids)."""
    import asyncio

    from tinydb.storages import JSONStorage

    from core.storage import ByokTinyDB

    db = tmp_path / "byok.json"
    f = IntegrationsFacade(db)
    d = asyncio.run(f.create_integration(T, name="a", provider_type="ollama"))
    plain = ByokTinyDB(db, storage=JSONStorage, access_mode="r")
    assert [(doc.doc_id, doc["name"]) for doc in plain.table("integrations").all()] == [(d.id, "a")]
    plain.close()


CORRUPT = [
    b'{"_meta": {"1": {"schema": 1}}, "integrations": {"abc": {"id": "abc", "na',  # torn
    b"\x00\x01\x02 garbage",
    b"[1, 2, 3]",
    b'{"integrations": [1, 2]}',
]


@pytest.mark.parametrize("content", CORRUPT)
async def test_corrupt_file_refused_and_untouched(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "byok.json"
    db.write_bytes(content)
    f = IntegrationsFacade(db)
    for call in (
        f.list_integrations(T),
        f.get_integration(T, "abc"),
        f.create_integration(T, name="a", provider_type="ollama"),
        f.update_integration(T, "abc", name="b"),
        f.delete_integration(T, "abc"),
        f.enable_integration(T, "abc"),
    ):
        with pytest.raises(StoreError) as e:
            await call
        assert str(db) in str(e.value)
    assert db.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


async def test_newer_schema_refused(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    content = b'{"_meta": {"1": {"schema": 99}}, "integrations": {}}'
    db.write_bytes(content)
    f = IntegrationsFacade(db)
    with pytest.raises(StoreError, match="newer"):
        await f.create_integration(T, name="a", provider_type="ollama")
    assert db.read_bytes() == content


def test_migration_runs_and_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"_meta": {"1": {"schema": 1}}, "things": {"1": {"v": 1}}}')

    def v1_to_v2(data: dict) -> None:
        for doc in data.get("things", {}).values():
            doc["v2"] = doc.pop("v") * 10

    s = AtomicJSONStorage(path, schema=2, migrations={1: v1_to_v2})
    assert s.snapshot()["things"]["1"] == {"v2": 10}
    with s.transaction():
        pass  # a transaction persists the upgrade
    assert json.loads(path.read_text())["_meta"]["1"]["schema"] == 2
    with pytest.raises(StoreError, match="no migration"):
        AtomicJSONStorage(tmp_path / "m.json", schema=4, migrations={}).snapshot()
    s.close()


def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    s = AtomicJSONStorage(tmp_path / "s.json")
    s.ensure_created()
    before = s.path.read_bytes()
    with pytest.raises(RuntimeError), s.transaction() as db:
        db.table("_meta").truncate()
        raise RuntimeError("boom")
    assert s.path.read_bytes() == before
    s.close()


def test_stale_temp_files_are_cleaned(tmp_path: Path) -> None:
    s = AtomicJSONStorage(tmp_path / "s.json")
    s.ensure_created()
    stale = tmp_path / ".s.json.12345.deadbeef.tmp"
    stale.write_bytes(b"half a file from a killed writer")
    with s.transaction() as db:
        db.table("t").insert(Document({"v": 1}, doc_id="k"))
    assert not stale.exists()
    s.close()


async def test_sees_other_process_commits(facade: IntegrationsFacade) -> None:
    await facade.list_integrations(T)  # warm the cache
    code = (
        "import asyncio, sys\n"
        "from core import IntegrationsFacade\n"
        "f = IntegrationsFacade(sys.argv[1])\n"
        "asyncio.run(f.create_integration('acme', name='from-child', provider_type='ollama'))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(facade.db_path)], check=True, env=os.environ)
    names = [i.name for i in (await facade.list_integrations(T)).items]
    assert names == ["from-child"]


def test_core_never_imports_textual() -> None:
    code = (
        "import asyncio, sys, tempfile, os\n"
        "import core\n"
        "f = core.IntegrationsFacade(os.path.join(tempfile.mkdtemp(), 'b.json'))\n"
        "asyncio.run(f.create_integration('t', name='n', provider_type='ollama'))\n"
        "asyncio.run(f.list_integrations('t'))\n"
        "import core.health.service, core.usage.service, core.providers.catalogue\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ
    )
    assert out.returncode == 0, out.stdout + out.stderr
