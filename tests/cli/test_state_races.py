"""Issue 12, items 9 and 10, through real `byok` processes: parallel edits all land, a probe's
result applies only to the credential it tested, a delete during a probe leaves no model list,
and a process that cannot read a credential does not block the integration for the others."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.clirun import BYOK, Run, byok
from support.env import subprocess_env

from core import IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer

OLD_KEY = "sk-old-Zt7qLmN4vXc9RbW2yK8uPdE5"
NEW_KEY = "sk-new-Qw3eRt5yUi7oPa9sDf1gHj2k"


class GatedProvider:
    """An OpenAI-like /v1/models on 127.0.0.1 that holds each request presenting `held_key`
    until `release()`, then answers `held_status`; any other key is answered 200 at once."""

    def __init__(self, held_key: str, held_status: int) -> None:
        self.held_key, self.held_status = held_key, held_status
        self.arrived = threading.Event()
        self._release = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                held = self.headers.get("authorization") == f"Bearer {gate.held_key}"
                if held:
                    gate.arrived.set()
                    gate._release.wait(30)
                status = gate.held_status if held else 200
                body = (
                    {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}
                    if status == 200
                    else {"error": {"message": "Incorrect API key provided",
                                    "type": "invalid_request_error", "code": "invalid_api_key"}}
                )  # fmt: skip
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def release(self) -> None:
        self._release.set()

    def __enter__(self) -> GatedProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def start(*args: str, db: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`byok ARGS` running in the background (stdin empty, output captured)."""
    return subprocess.Popen(
        [*BYOK, "--db", str(db), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(**(env or {})),
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> Run:
    out, err = proc.communicate(timeout=timeout)
    return Run(proc.returncode, out, err)


def show(db: Path, ref: str) -> dict[str, object]:
    run = byok("show", ref, "--json", db=db)
    assert run.code == 0, run.err
    return run.json  # type: ignore[no-any-return]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "byok.json"


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        yield s


# -- item 9: lost updates --------------------------------------------------------------------------


def test_twenty_parallel_edit_pairs_all_land(db: Path) -> None:
    names = [f"az{i}" for i in range(20)]

    async def create() -> None:
        facade = IntegrationsFacade(db)
        base = {"provider_type": "azure_openai", "credential": "env:AZ_KEY",
                "config": {"base_url": "https://old.openai.azure.com"}}  # fmt: skip
        items = [{"name": n, **base} for n in names]
        await facade.create_integrations("default", items)
        await facade.aclose()

    asyncio.run(create())
    procs = []
    for i, name in enumerate(names):  # both edits of a pair race for the same document
        procs.append(start("edit", name, "--base-url", f"https://r{i}.openai.azure.com", db=db))
        procs.append(start("edit", name, "--api-version", f"2025-01-{i + 1:02d}", db=db))
    runs = [finish(p, timeout=180) for p in procs]
    assert all(r.code == 0 for r in runs), [r.err for r in runs if r.code]
    listed = byok("list", "--json", db=db).json["items"]
    assert len(listed) == 20
    lost = []
    for i, name in enumerate(names):
        config = show(db, name)["config"]
        if config != {"base_url": f"https://r{i}.openai.azure.com",
                      "api_version": f"2025-01-{i + 1:02d}"}:  # fmt: skip
            lost.append((name, config))
    assert not lost, lost


def test_a_probe_that_lands_after_a_key_rotation_does_not_mark_the_new_key(db: Path) -> None:
    with GatedProvider(OLD_KEY, 401) as provider:
        run = byok("add", "k1", "--provider", "openai", "--credential-stdin",
                   "--base-url", provider.base_url, db=db, input=OLD_KEY + "\n")  # fmt: skip
        assert run.code == 0, run.err
        assert byok("enable", "k1", db=db).code == 0
        probe = start("test", "k1", "--json", db=db)
        assert provider.arrived.wait(60), "the probe never reached the provider"
        run = byok("edit", "k1", "--credential-stdin", db=db, input=NEW_KEY + "\n")
        assert run.code == 0, run.err
        provider.release()
        tested = finish(probe)
        # the probe reports what it saw, about the key it sent
        assert tested.json[0]["reason"] == "invalid_key", tested.out
        after = show(db, "k1")
        assert (after["health_state"], after["health_reason"]) == ("unknown", None), after
        assert after["status"] == "enabled"
        assert byok("check", "k1", db=db).code == 0
        # the new key, probed, is healthy
        assert byok("test", "k1", db=db).code == 0
        assert show(db, "k1")["health_state"] == "healthy"


def test_a_delete_during_a_probe_leaves_no_model_list(db: Path) -> None:
    with GatedProvider(OLD_KEY, 200) as provider:
        for name in ("doomed", "kept"):
            run = byok("add", name, "--provider", "openai", "--credential-stdin",
                       "--base-url", provider.base_url, db=db,
                       input=(OLD_KEY if name == "doomed" else NEW_KEY) + "\n")  # fmt: skip
            assert run.code == 0, run.err
        doomed = show(db, "doomed")["id"]
        probe = start("test", "--all", "--json", db=db)
        assert provider.arrived.wait(60), "the probe never reached the provider"
        assert byok("rm", "doomed", "--yes", db=db).code == 0
        provider.release()
        tested = finish(probe)
        assert len(tested.json) == 2, tested.out + tested.err
    models = (db.parent / "byok.models.json").read_text()
    assert doomed not in models
    assert show(db, "kept")["id"] in models  # the other result was stored
    assert byok("show", "doomed", db=db).code != 0


# -- item 10: a process that cannot read a credential ----------------------------------------------


def test_a_missing_env_var_in_one_process_does_not_stick(
    db: Path, server: FakeProviderServer
) -> None:
    run = byok("add", "e1", "--provider", "openai", "--credential", "env:MY_KEY",
               "--base-url", server.base_url_for("openai"), db=db)  # fmt: skip
    assert run.code == 0, run.err
    assert byok("enable", "e1", db=db).code == 0
    cron = byok("test", "--json", db=db)  # a cron job's environment, without MY_KEY
    assert cron.json[0]["reason"] == "credential_error" and "MY_KEY" in cron.json[0]["message"]
    assert show(db, "e1")["status"] == "error"
    refused = byok("enable", "e1", db=db)
    assert refused.code == 65 and "MY_KEY" in refused.err, refused.err
    assert "accepted" not in refused.err
    key = {"MY_KEY": "sk-test@ok@0123456789abcdef"}
    assert byok("test", "e1", db=db, env=key).code == 0
    healed = show(db, "e1")
    assert (healed["status"], healed["health_state"]) == ("enabled", "healthy"), healed
    check = byok("check", "e1", db=db, env=key)
    assert check.code == 0, check.out + check.err
    enabled = byok("enable", "e1", db=db)
    assert enabled.code == 0 and "already enabled" in enabled.out


def test_a_created_integration_returns_to_created(db: Path, server: FakeProviderServer) -> None:
    # the sequence, never enabled: after the healthy probe, enable works
    run = byok("add", "e1", "--provider", "openai", "--credential", "env:MY_KEY",
               "--base-url", server.base_url_for("openai"), db=db)  # fmt: skip
    assert run.code == 0, run.err
    assert byok("test", db=db).code == 2
    assert show(db, "e1")["status"] == "error"
    assert byok("test", "e1", db=db, env={"MY_KEY": "sk-test@ok@0123456789abcdef"}).code == 0
    assert show(db, "e1")["status"] == "created"
    enabled = byok("enable", "e1", db=db)
    assert enabled.code == 0 and "created -> enabled" in enabled.out, enabled.err


def test_a_wrong_master_key_in_one_process_does_not_stick(
    db: Path, server: FakeProviderServer
) -> None:
    run = byok("add", "sealed", "--provider", "openai", "--credential-stdin",
               "--base-url", server.base_url_for("openai"), db=db,
               input="sk-test@ok@00000000000000000000\n")  # fmt: skip
    assert run.code == 0, run.err
    assert byok("enable", "sealed", db=db).code == 0
    wrong = {"BYOK_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    bad = byok("test", "sealed", "--json", db=db, env=wrong)
    assert bad.json[0]["reason"] == "credential_error" and "master key" in bad.json[0]["message"]
    assert show(db, "sealed")["status"] == "error"
    assert byok("check", "sealed", db=db).code == 2
    assert byok("test", "sealed", db=db).code == 0  # a process with the right key
    assert show(db, "sealed")["status"] == "enabled"
    assert byok("check", "sealed", db=db).code == 0
