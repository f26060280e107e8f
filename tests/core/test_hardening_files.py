"""Hardening of byok's own files and secrets (items 2, 11, 13, 14 and 15 of the hardening issue).

* a credential reference never names byok's own secret material (the master key, its file, the
  database and its side files, /proc): refused on input, and refused again when resolved;
* a file of valid JSON but the wrong shape (or empty) is a StoreError naming it, left untouched;
* nothing non-finite comes out of a probe (a `Retry-After: nan`);
* a missing master key file is not silently replaced once secrets are sealed under it, and a key
  file other users can read is refused;
* a symlinked database is written through, a non-regular one is refused, and a database opened
  with `create=False` that does not exist is an error that creates nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from support.env import TEST_MASTER_KEY
from support.providers import key_for, make

from core import (
    CredentialError,
    HealthState,
    IntegrationsFacade,
    StoreError,
    ValidationError,
)
from core.integrations.credentials import Vault
from core.providers.probes import retry_after
from core.readside import Dashboard
from core.storage import AtomicJSONStorage
from tui.demo.fakeprovider import FakeProviderServer

T = "default"
SECRET = "sk-proj-hardening-0000000000000000"


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        s.hang_s = 2.0
        yield s


# -- item 2: references to byok's own secrets ----------------------------------------------------


def _reserved_refs(db_path: Path, key_file: Path) -> list[str]:
    usage_segment = db_path.with_name("byok.usage.d") / "2026-01-01.jsonl"
    return [
        "env:BYOK_MASTER_KEY",
        "env:BYOK_KEY_FILE",
        f"file:{key_file}",
        f"file:{db_path}",
        f"file:{db_path.with_name('byok.usage.json')}",
        f"file:{db_path.with_name('byok.health.json')}",
        f"file:{db_path.with_name('byok.json.lock')}",
        f"file:{usage_segment}",
        "file:/proc/self/environ",
        f"file:/proc/{os.getpid()}/environ",
        "file:/dev/fd/3/../../self/environ",
    ]


async def test_references_to_byok_secrets_are_refused_on_create_and_update(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "keys" / "master.key"
    monkeypatch.setenv("BYOK_KEY_FILE", str(key_file))
    f = IntegrationsFacade(db_path)
    try:
        ok = await f.create_integration(T, name="ok", provider_type="openai", credential=SECRET)
        for i, ref in enumerate(_reserved_refs(db_path, key_file)):
            with pytest.raises(ValidationError) as e:
                await f.create_integration(
                    T, name=f"n{i}", provider_type="openai", credential=ref
                )
            assert set(e.value.errors) == {"credential"}, ref
            with pytest.raises(ValidationError) as e:
                await f.update_integration(T, ok.id, credential=ref)
            assert set(e.value.errors) == {"credential"}, ref
        assert (await f.list_integrations(T)).total == 1
        detail = await f.get_integration(T, ok.id)
        assert detail is not None and detail.credential_source.value == "encrypted"
    finally:
        await f.aclose()


async def test_a_link_to_the_key_file_or_the_database_is_refused(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "keys" / "master.key"
    monkeypatch.setenv("BYOK_KEY_FILE", str(key_file))
    key_file.parent.mkdir()
    key_file.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    key_file.chmod(0o600)
    f = IntegrationsFacade(db_path)
    try:
        await f.create_integration(T, name="first", provider_type="ollama")
        soft = tmp_path / "innocent-key"
        soft.symlink_to(key_file)
        hard = tmp_path / "hard-key"
        os.link(key_file, hard)
        db_link = tmp_path / "innocent-db"
        db_link.symlink_to(db_path)
        for ref in (soft, hard, db_link):
            with pytest.raises(ValidationError) as e:
                await f.create_integration(
                    T, name="x", provider_type="openai", credential=f"file:{ref}"
                )
            assert "credential" in e.value.errors, ref
    finally:
        await f.aclose()


async def test_a_stored_reference_to_byok_secrets_is_never_sent(
    db_path: Path, tmp_path: Path, server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference written into the database by hand (or by an older byok) fails at resolve
    time: the probe ends in credential_error and no request reaches the provider."""
    key_file = tmp_path / "master.key"
    monkeypatch.setenv("BYOK_KEY_FILE", str(key_file))
    f = IntegrationsFacade(db_path)
    try:
        iid = await make(f, server, "openai", key_for("ok"), tenant=T)
        copy = tmp_path / "looks-like-a-key"
        for ref in (
            {"source": "env", "ref": "BYOK_MASTER_KEY"},
            {"source": "file", "ref": str(db_path)},
            {"source": "file", "ref": "/proc/self/environ"},
            {"source": "file", "ref": str(copy)},  # a copy of the master key: its content
            {"source": "env", "ref": "SOME_ALIAS"},  # an alias holding the master key
        ):
            with f.context.store.transaction() as db:
                db.table("integrations").update(
                    {"credential": {**ref, "hint": "x"}, "status": "enabled"}, doc_ids=[iid]
                )
            copy.write_text(TEST_MASTER_KEY + "\n")
            os.environ["SOME_ALIAS"] = TEST_MASTER_KEY
            try:
                with pytest.raises(CredentialError) as e:
                    f.context.repo.secret(f.context.repo.get(T, iid))
                assert TEST_MASTER_KEY not in str(e.value)
                server.reset()
                result = await f.test_credentials(T, iid)
                assert result is not None and result.reason == "credential_error", ref
                assert result.health_state is HealthState.FAILING
                assert server.requests == [], ref
            finally:
                del os.environ["SOME_ALIAS"]
    finally:
        await f.aclose()


# -- item 11: valid JSON of the wrong shape, and empty files --------------------------------------


async def _populated(db_path: Path, server: FakeProviderServer) -> str:
    f = IntegrationsFacade(db_path)
    try:
        iid = await make(f, server, "openai", key_for("ok"), tenant=T)
        await f.test_credentials(T, iid)
        await f.record_usage(T, iid, model="gpt-4o-mini", input_tokens=10, output_tokens=5)
    finally:
        await f.aclose()
    return iid


async def _read_everything(db_path: Path, iid: str) -> None:
    f = IntegrationsFacade(db_path)
    try:
        await f.list_integrations(T)
        await f.get_integration(T, iid)
        await f.get_limits_status(T, iid)
        await f.get_alerts(T)
        await f.get_health_log(T)
        await f.get_models(T, iid)
    finally:
        await f.aclose()


def _bad_integrations(doc: dict) -> list[dict]:
    no_tenant = {k: v for k, v in doc.items() if k != "tenant_id"}
    return [
        {"integrations": {doc["id"]: no_tenant}},
        {"integrations": {doc["id"]: {**doc, "provider_type": "nosuch"}}},
        {"integrations": {doc["id"]: {**doc, "created_at": 5}}},
        {"integrations": {doc["id"]: {**doc, "budget_limit_cents": "lots"}}},
        {"integrations": {doc["id"]: {**doc, "credential": "file:/x"}}},
        {"integrations": {doc["id"]: 7}},
        {"integrations": {doc["id"]: doc}, "_meta": 5},
        {"integrations": {doc["id"]: doc}, "_meta": {"1": 5}},
        {"integrations": {doc["id"]: doc}, "_meta": {"1": {"schema": "one"}}},
    ]


async def test_integrations_file_of_the_wrong_shape_is_a_store_error(
    db_path: Path, server: FakeProviderServer
) -> None:
    iid = await _populated(db_path, server)
    doc = orjson.loads(db_path.read_bytes())["integrations"][iid]
    for bad in _bad_integrations(doc):
        raw = orjson.dumps(bad)
        db_path.write_bytes(raw)
        with pytest.raises(StoreError) as e:
            await _read_everything(db_path, iid)
        assert str(db_path) in str(e.value) and e.value.path == str(db_path), bad
        with pytest.raises(StoreError):
            Dashboard(db_path).rows(T)
        with pytest.raises(StoreError):  # a write refuses too, before changing anything
            g = IntegrationsFacade(db_path)
            try:
                await g.create_integration(T, name="new", provider_type="ollama")
            finally:
                await g.aclose()
        assert db_path.read_bytes() == raw, bad


async def _write_to(db_path: Path, iid: str, name: str) -> None:
    """The write that reads `name` first."""
    g = IntegrationsFacade(db_path)
    try:
        if name == "byok.json":
            await g.create_integration(T, name="new", provider_type="ollama")
        elif name == "byok.usage.json":
            await g.record_usage(T, iid, model="m", input_tokens=1, output_tokens=1)
        else:
            await g.test_credentials(T, iid)
    finally:
        await g.aclose()


@pytest.mark.parametrize("name", ["byok.json", "byok.usage.json", "byok.health.json",
                                  "byok.models.json"])  # fmt: skip
async def test_an_empty_existing_file_is_a_store_error(
    db_path: Path, server: FakeProviderServer, name: str
) -> None:
    iid = await _populated(db_path, server)
    target = db_path.with_name(name)
    if name == "byok.health.json":
        _old_format_health_log(db_path)
    assert target.is_file()
    target.write_bytes(b"")
    with pytest.raises(StoreError) as e:
        await _read_everything(db_path, iid)
    assert str(target) in str(e.value) and "empty" in str(e.value)
    with pytest.raises(StoreError):
        await _write_to(db_path, iid, name)
    assert target.read_bytes() == b""


def _old_format_health_log(db_path: Path) -> None:
    """The health log as byok wrote it before segments (one JSON file), as an upgrade finds it:
    it is migrated on first use."""
    log: dict[str, dict] = {}
    for segment in sorted(db_path.with_name("byok.health.d").glob("*.jsonl")):
        for line in segment.read_bytes().splitlines():
            entry = orjson.loads(line[9:])
            doc = log.setdefault(entry["integration_id"], {"tenant_id": entry.pop("tenant_id"),
                                                           "entries": []})  # fmt: skip
            entry.pop("tenant_id", None)
            doc["entries"].append(entry)
        segment.unlink()
    db_path.with_name("byok.health.json").write_bytes(orjson.dumps({"log": log}))


def _rewrite(path: Path, change) -> bytes:  # type: ignore[no-untyped-def]
    data = orjson.loads(path.read_bytes())
    change(data)
    raw = orjson.dumps(data)
    path.write_bytes(raw)
    return raw


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("byok.usage.json", lambda d: d.update(rollups={"x": {"tenant_id": "default"}})),
        ("byok.usage.json", lambda d: d.update(rollups={"x": 5})),
        ("byok.usage.json", lambda d: d.update(rollups=[1, 2])),
        ("byok.usage.json", lambda d: [r.update(cost_nc="9" * 5000) for r in
                                        d["rollups"].values()]),
        ("byok.usage.json", lambda d: [r.update(input_tokens=-3) for r in
                                        d["rollups"].values()]),
        ("byok.usage.json", lambda d: [r.update(period="0000-01") for r in
                                        d["rollups"].values()]),
        ("byok.usage.json", lambda d: d.update(state={"1": {"segment": 5, "offset": "x"}})),
        ("byok.usage.json", lambda d: d.update(alerts={"a": {"id": "a"}})),
        ("byok.health.json", lambda d: d.update(log={"x": {"entries": 5}})),
        ("byok.health.json", lambda d: [e.update(entries=[{"nope": 1}]) for e in
                                         d["log"].values()]),
        ("byok.health.json", lambda d: [e.update(entries=[{**x, "health_state": "odd"} for x in
                                                         e["entries"]]) for e in
                                         d["log"].values()]),
        ("byok.models.json", lambda d: d.update(models={"x": {"tenant_id": "t", "models": 3}})),
    ],
)  # fmt: skip
async def test_side_files_of_the_wrong_shape_are_store_errors(
    db_path: Path, server: FakeProviderServer, name: str, change
) -> None:  # type: ignore[no-untyped-def]
    iid = await _populated(db_path, server)
    target = db_path.with_name(name)
    if name == "byok.health.json":
        _old_format_health_log(db_path)
    raw = _rewrite(target, change)
    with pytest.raises(StoreError) as e:
        await _read_everything(db_path, iid)
    assert str(target) in str(e.value), str(e.value)
    with pytest.raises(StoreError):
        await _write_to(db_path, iid, name)
    assert target.read_bytes() == raw


def _frame(body: dict) -> bytes:
    payload = orjson.dumps(body)
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


@pytest.mark.parametrize(
    "body",
    [
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [[5, 0, 1, 1, 1, None, None]]},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [[0, 9, 1, 1, 1, None, None]]},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [[0, 0, 1]]},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [[0, 0, "t", 1, 1, None, None]]},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [[0, 0, 1, -1, 1, None, None]]},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [[0, 0, 10**18, 1, 1, None, None]]},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [[0, 0, -1, 1, 1, None, None]]},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": 5},
        {"v": 1, "r": 1, "i": ["ID"], "m": ["m"], "e": []},
        {"v": 1, "r": 1, "t": T, "i": ["ID"], "m": ["m"], "e": [], "a": [{"id": "x"}]},
    ],
)  # fmt: skip
async def test_a_log_frame_with_a_valid_checksum_and_a_bad_shape(
    db_path: Path, server: FakeProviderServer, body: dict
) -> None:
    iid = await _populated(db_path, server)
    body = orjson.loads(orjson.dumps(body).replace(b'"ID"', orjson.dumps(iid)))
    [segment] = db_path.with_name("byok.usage.d").glob("*.jsonl")
    with open(segment, "ab") as fh:
        fh.write(_frame(body))
    raw = segment.read_bytes()
    with pytest.raises(StoreError) as e:
        await _read_everything(db_path, iid)
    assert str(segment) in str(e.value)
    g = IntegrationsFacade(db_path)
    try:
        with pytest.raises(StoreError):  # a writer refuses too, and repairs nothing
            await g.record_usage(T, iid, model="m", input_tokens=1, output_tokens=1)
    finally:
        await g.aclose()
    assert segment.read_bytes() == raw


@pytest.mark.parametrize(
    "entry",
    [{"nope": 1}, {"health_state": "odd"}, {"tenant_id": 5}, {"checked_at": None}, [1, 2]],
)
async def test_a_health_log_line_with_a_valid_checksum_and_a_bad_shape(
    db_path: Path, server: FakeProviderServer, entry: object
) -> None:
    iid = await _populated(db_path, server)
    [segment] = db_path.with_name("byok.health.d").glob("*.jsonl")
    first = orjson.loads(segment.read_bytes()[9:])
    bad = {**first, **entry} if isinstance(entry, dict) and "nope" not in entry else entry
    with open(segment, "ab") as fh:
        fh.write(_frame(bad))  # type: ignore[arg-type]
    raw = segment.read_bytes()
    with pytest.raises(StoreError) as e:
        await _read_everything(db_path, iid)
    assert str(segment) in str(e.value)
    await _write_to(db_path, iid, "byok.health.json")  # an append does not read the history
    assert segment.read_bytes().startswith(raw)  # and repairs nothing


# -- item 13: nothing non-finite ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "nan"},
        {"retry-after": "NaN"},
        {"retry-after": "inf"},
        {"retry-after": "-inf"},
        {"retry-after": "1e400"},
        {"retry-after-ms": "nan"},
        {"retry-after-ms": "infinity"},
        {"retry-after-ms": "1e400"},
    ],
)
def test_a_non_finite_retry_after_is_ignored(headers: dict[str, str]) -> None:
    assert retry_after(headers) is None


def test_a_finite_retry_after_is_kept() -> None:
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "nan", "retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "1500"}) == 1.5


async def test_a_nan_retry_after_from_a_provider(db_path: Path, server: FakeProviderServer) -> None:
    f = IntegrationsFacade(db_path)
    try:
        iid = await make(f, server, "openai", key_for("429:nan"), tenant=T)
        result = await f.test_credentials(T, iid)
        assert result is not None and result.reason == "rate_limited"
        assert result.retry_after_s is None
    finally:
        await f.aclose()


# -- item 14: the master key file ------------------------------------------------------------------


async def test_a_missing_key_file_is_not_replaced_once_secrets_are_sealed(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BYOK_MASTER_KEY")
    key_file = tmp_path / "cfg" / "master.key"
    monkeypatch.setenv("BYOK_KEY_FILE", str(key_file))
    f = IntegrationsFacade(db_path)
    try:  # first use: the key file is created
        await f.create_integration(T, name="a", provider_type="openai", credential=SECRET)
    finally:
        await f.aclose()
    assert key_file.is_file()
    key_file.unlink()
    before = _digest(db_path.parent)
    g = IntegrationsFacade(db_path)
    try:
        with pytest.raises(CredentialError) as e:
            await g.create_integration(T, name="b", provider_type="openai", credential=SECRET)
        text = str(e.value)
        assert str(key_file) in text and "missing" in text
        assert "BYOK_MASTER_KEY" in text and "restore" in text.lower()
        with pytest.raises(CredentialError) as e:  # opening says the same
            g.context.repo.secret(g.context.repo.find(T)[0])
        assert str(key_file) in str(e.value) and "missing" in str(e.value)
        # env: and file: references need no master key
        await g.create_integration(T, name="c", provider_type="openai", credential="env:K")
    finally:
        await g.aclose()
    assert not key_file.exists()
    assert len(_digest(db_path.parent)) == len(before)


async def test_a_key_file_other_users_can_read_is_refused(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BYOK_MASTER_KEY")
    key_file = tmp_path / "master.key"
    monkeypatch.setenv("BYOK_KEY_FILE", str(key_file))
    f = IntegrationsFacade(db_path)
    try:
        d = await f.create_integration(T, name="a", provider_type="openai", credential=SECRET)
    finally:
        await f.aclose()
    for mode in (0o644, 0o640, 0o604):
        key_file.chmod(mode)
        g = IntegrationsFacade(db_path)
        try:
            with pytest.raises(CredentialError) as e:
                g.context.repo.secret(g.context.repo.get(T, d.id))
            assert f"chmod 600 {key_file}" in str(e.value)
            with pytest.raises(CredentialError):
                await g.create_integration(T, name="b", provider_type="openai", credential=SECRET)
        finally:
            await g.aclose()
        assert stat.S_IMODE(key_file.stat().st_mode) == mode  # not changed behind the user's back
    key_file.chmod(0o600)
    g = IntegrationsFacade(db_path)
    try:
        assert g.context.repo.secret(g.context.repo.get(T, d.id)) == SECRET
    finally:
        await g.aclose()


def test_a_standalone_vault_still_creates_its_key_on_first_use(tmp_path: Path) -> None:
    v = Vault(key_path=tmp_path / "k", environ={})
    sealed = v.seal("the-secret", "t", "i")
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert Vault(key_path=tmp_path / "k", environ={}).open(sealed, "t", "i") == "the-secret"


# -- item 15: database paths -----------------------------------------------------------------------


async def test_a_symlinked_database_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real" / "byok.json"
    link_dir = tmp_path / "link"
    link_dir.mkdir()
    link = link_dir / "byok.json"
    f = IntegrationsFacade(real)
    await f.create_integration(T, name="one", provider_type="ollama")
    await f.aclose()
    link.symlink_to(real)
    g = IntegrationsFacade(link)
    try:
        d = await g.create_integration(T, name="two", provider_type="ollama")
        await g.record_usage(T, d.id, model="m", input_tokens=1, output_tokens=1)
    finally:
        await g.aclose()
    assert link.is_symlink() and link.resolve() == real
    h = IntegrationsFacade(real)
    try:
        assert (await h.list_integrations(T)).total == 2
        s = await h.get_limits_status(T, d.id)
        assert s is not None and s.tokens_used_month == 2  # the side files are the target's too
    finally:
        await h.aclose()
    assert sorted(p.name for p in link_dir.iterdir()) == ["byok.json"]


def _char_device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # a private /dev/null
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")


@pytest.mark.parametrize("kind", ["chardev", "directory", "fifo", "root"])
async def test_a_database_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "byok.json"
    if kind == "chardev":
        _char_device(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/")
    mode = os.lstat(path).st_mode
    for create in (True, False):
        with pytest.raises(StoreError) as e:
            IntegrationsFacade(path, create=create)
        assert str(path) in str(e.value) and e.value.path == str(path)
    with pytest.raises(StoreError):
        Dashboard(path)
    assert os.lstat(path).st_mode == mode


async def test_create_false_on_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "byok.json"
    with pytest.raises(StoreError) as e:
        IntegrationsFacade(path, create=False)
    assert str(path) in str(e.value) and "byok add" in str(e.value)
    with pytest.raises(StoreError):
        Dashboard(path, create=False)
    assert not path.parent.exists()
    assert list(tmp_path.iterdir()) == []


async def test_create_false_opens_an_existing_database(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    await f.create_integration(T, name="a", provider_type="ollama")
    await f.aclose()
    g = IntegrationsFacade(db_path, create=False)
    try:
        assert (await g.list_integrations(T)).total == 1
    finally:
        await g.aclose()


def test_storage_resolves_its_path_once(tmp_path: Path) -> None:
    real = tmp_path / "a" / "x.json"
    real.parent.mkdir()
    (tmp_path / "b").symlink_to(real.parent)
    store = AtomicJSONStorage(tmp_path / "b" / "x.json")
    assert store.path == real
    store.close()
