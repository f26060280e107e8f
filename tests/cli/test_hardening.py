"""The hardening items as `byok` shows them: exit codes, one-line messages naming the file, strict
JSON, nothing created or changed by a refused command."""

from __future__ import annotations

import io
import json
import os
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from support.clirun import Run, assert_usage_error, byok, fingerprint

from tui.cli import output
from tui.demo.fakeprovider import FakeProviderServer

SECRET = "sk-proj-Zt7qLmN4vXc9RbW2yK8uPdE5"


def _strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def assert_store_error(run: Run, path: Path, *needles: str) -> None:
    """Exit 74, one line on stderr naming the file, no traceback."""
    assert run.code == 74, (run.code, run.out, run.err)
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert len(run.err.strip().splitlines()) == 1, run.err
    assert str(path) in run.err, run.err
    for needle in needles:
        assert needle in run.err, (needle, run.err)


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        s.hang_s = 2.0
        yield s


@pytest.fixture
def db(tmp_path: Path, server: FakeProviderServer) -> Path:
    path = tmp_path / "data" / "byok.json"
    run = byok("add", "prod", "--provider", "openai", "--credential-stdin",
               "--base-url", server.base_url_for("openai"), db=path,
               input="sk-test@ok@00000000000000000000\n")  # fmt: skip
    assert run.code == 0, run.err
    assert byok("usage", "record", "prod", "--model", "gpt-4o-mini", "--input", "10",
                "--output", "5", db=path).code == 0  # fmt: skip
    assert byok("test", "prod", db=path).code == 0
    return path


# -- item 2 ----------------------------------------------------------------------------------------


def test_references_to_byok_secrets_exit_64_and_change_nothing(db: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "cfg" / "master.key"
    before = fingerprint(db)
    env = {"BYOK_KEY_FILE": str(key_file)}
    for ref in ("env:BYOK_MASTER_KEY", "env:BYOK_KEY_FILE", f"file:{key_file}", f"file:{db}",
                "file:/proc/self/environ"):  # fmt: skip
        run = byok("add", "x", "--provider", "openai", "--credential", ref, db=db, env=env)
        assert_usage_error(run, "credential")
        run = byok("edit", "prod", "--credential", ref, db=db, env=env)
        assert_usage_error(run, "credential")
    assert fingerprint(db) == before


# -- item 11 ---------------------------------------------------------------------------------------


def test_a_document_without_tenant_id_exits_74(db: Path) -> None:
    data = orjson.loads(db.read_bytes())
    for doc in data["integrations"].values():
        del doc["tenant_id"]
    raw = orjson.dumps(data)
    db.write_bytes(raw)
    for args in (["list"], ["show", "prod"], ["limits"], ["add", "y", "--provider", "ollama"]):
        assert_store_error(byok(*args, db=db), db)
    assert_store_error(byok(db=db), db)  # the console refuses before drawing
    assert db.read_bytes() == raw


def test_meta_that_is_not_an_object_exits_74(db: Path) -> None:
    data = orjson.loads(db.read_bytes())
    data["_meta"] = {"1": "schema one"}
    raw = orjson.dumps(data)
    db.write_bytes(raw)
    assert_store_error(byok("list", db=db), db)
    assert db.read_bytes() == raw


def test_an_empty_database_file_exits_74(tmp_path: Path) -> None:
    path = tmp_path / "byok.json"
    path.write_bytes(b"")
    assert_store_error(byok("list", db=path), path, "empty")
    assert_store_error(byok("add", "x", "--provider", "ollama", db=path), path, "empty")
    assert path.read_bytes() == b""


def test_a_usage_file_of_the_wrong_shape_exits_74(db: Path) -> None:
    usage = db.with_name("byok.usage.json")
    data = orjson.loads(usage.read_bytes())
    data["rollups"] = {"x": {"tenant_id": "default"}}
    raw = orjson.dumps(data)
    usage.write_bytes(raw)
    assert_store_error(byok("limits", db=db), usage)
    assert_store_error(byok("check", "prod", db=db), usage)
    assert usage.read_bytes() == raw


def test_a_log_frame_with_a_valid_checksum_and_bad_indexes_exits_74(db: Path) -> None:
    [segment] = db.with_name("byok.usage.d").glob("*.jsonl")
    iid = byok("show", "prod", "--json", db=db).json["id"]
    body = {"v": 1, "r": 1, "t": "default", "i": [iid], "m": ["m"],
            "e": [[3, 7, 1, 1, 1, None, None]]}  # fmt: skip
    payload = orjson.dumps(body)
    with open(segment, "ab") as fh:
        fh.write(b"%08x " % zlib.crc32(payload) + payload + b"\n")
    raw = segment.read_bytes()
    assert_store_error(byok("limits", db=db), segment)
    run = byok("usage", "record", "prod", "--model", "m", "--input", "1", "--output", "1", db=db)
    assert_store_error(run, segment)
    assert segment.read_bytes() == raw


# -- item 13 ---------------------------------------------------------------------------------------


def test_a_nan_retry_after_gives_strict_json(tmp_path: Path, server: FakeProviderServer) -> None:
    path = tmp_path / "byok.json"
    run = byok("add", "busy", "--provider", "openai", "--credential-stdin",
               "--base-url", server.base_url_for("openai"), db=path,
               input="sk-test@429:nan@00000000000000000000\n")  # fmt: skip
    assert run.code == 0, run.err
    run = byok("test", "busy", "--json", db=path)
    assert run.code == 1, run.err
    [result] = _strict(run.out)  # type: ignore[misc]
    assert result["reason"] == "rate_limited" and result["retry_after_s"] is None
    for args in (["log", "--json"], ["limits", "--json"], ["check", "busy", "--json"],
                 ["show", "busy", "--json"], ["list", "--json"], ["alerts", "--json"]):  # fmt: skip
        run = byok(*args, db=path)
        assert run.code in (0, 1, 2), (args, run.err)
        _strict(run.out)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_json_output_never_writes_a_non_finite_number(bad: float) -> None:
    out = io.StringIO()
    with pytest.raises(ValueError):
        output.print_json({"retry_after_s": bad}, out)
    assert out.getvalue() == ""


# -- item 14 ---------------------------------------------------------------------------------------


def _no_env_key() -> dict[str, str]:
    return {"BYOK_MASTER_KEY": ""}


def test_a_missing_key_file_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "byok.json"
    key_file = tmp_path / "cfg" / "master.key"
    env = {**_no_env_key(), "BYOK_KEY_FILE": str(key_file)}
    run = byok("add", "a", "--provider", "openai", "--credential-stdin", db=path, env=env,
               input=SECRET + "\n")  # fmt: skip
    assert run.code == 0, run.err
    assert key_file.is_file()  # first use
    key_file.unlink()
    before = fingerprint(path)
    run = byok("add", "b", "--provider", "openai", "--credential-stdin", db=path, env=env,
               input=SECRET + "\n")  # fmt: skip
    assert run.code == 65, (run.code, run.err)
    assert str(key_file) in run.err and "missing" in run.err and "BYOK_MASTER_KEY" in run.err
    assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 1
    assert not key_file.exists()
    assert fingerprint(path) == before


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "byok.json"
    key_file = tmp_path / "master.key"
    env = {**_no_env_key(), "BYOK_KEY_FILE": str(key_file)}
    run = byok("add", "a", "--provider", "openai", "--credential-stdin", db=path, env=env,
               input=SECRET + "\n")  # fmt: skip
    assert run.code == 0, run.err
    key_file.chmod(0o644)
    run = byok("add", "b", "--provider", "openai", "--credential-stdin", db=path, env=env,
               input=SECRET + "\n")  # fmt: skip
    assert run.code == 65, (run.code, run.err)
    assert f"chmod 600 {key_file}" in run.err
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o644


# -- item 15 ---------------------------------------------------------------------------------------

READ_COMMANDS = [
    ["list"], ["show", "x"], ["test"], ["test", "x"], ["limits"], ["limits", "x"],
    ["check", "x"], ["log"], ["log", "x"], ["alerts"], ["alerts", "x"],
    ["edit", "x", "--rpm", "1"], ["rm", "x", "--yes"], ["enable", "x"], ["disable", "x"],
    ["usage", "record", "x", "--model", "m", "--input", "1", "--output", "1"],
]  # fmt: skip


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_command_on_a_missing_database_exits_74_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    path = tmp_path / "typo" / "byok.json"
    run = byok(*args, "--json", db=path) if args[0] in ("list", "log") else byok(*args, db=path)
    assert_store_error(run, path, "byok add")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_default_database_exits_74(isolated_env: Path) -> None:
    run = byok("list")
    assert_store_error(run, isolated_env / "data" / "byok" / "byok.json", "byok add")
    assert not (isolated_env / "data" / "byok").exists()
    assert byok("add", "x", "--provider", "ollama").code == 0  # add creates it
    assert byok("list", "--json").json["total"] == 1


def test_a_symlinked_database_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real" / "byok.json"
    assert byok("add", "one", "--provider", "ollama", db=real).code == 0
    link = tmp_path / "byok.json"
    link.symlink_to(real)
    assert byok("add", "two", "--provider", "ollama", db=link).code == 0
    assert link.is_symlink()
    assert byok("list", "--json", db=real).json["total"] == 2


@pytest.mark.parametrize("kind", ["root", "directory", "chardev"])
def test_a_database_that_is_not_a_file_exits_74(tmp_path: Path, kind: str) -> None:
    if kind == "root":
        path = Path("/")
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "byok.json"
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except OSError as exc:
            pytest.skip(f"cannot create a device node here: {exc}")
    mode = os.lstat(path).st_mode
    for args in (["list"], ["add", "x", "--provider", "ollama"]):
        assert_store_error(byok(*args, db=path), path)
    assert os.lstat(path).st_mode == mode
