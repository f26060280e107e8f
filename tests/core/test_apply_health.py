"""apply_health_many: the same documents and return values as TinyDB's per-result Table.update
of the same fields (what it did before), in one change of the table and one commit per batch."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from core import IntegrationsFacade
from core.enums import HealthState
from core.integrations.repository import TABLE, IntegrationRepo, health_fields
from core.storage import StrIdTable


def _reference(repo: IntegrationRepo, tenant: str, outcomes: Iterable[Mapping[str, Any]]) -> list:
    """apply_health_many as it was: one TinyDB update (a whole-table rebuild) per result."""
    applied: list[Any] = []
    with repo.store.transaction() as db:
        table = db.table(TABLE)
        for item in outcomes:
            iid = item["integration_id"]
            doc = table.get(doc_id=iid)
            fields = health_fields(doc, tenant, item)
            if doc is None or fields is None:
                applied.append(None)
                continue
            table.update(fields, doc_ids=[iid])
            applied.append({**doc, **fields})
    return applied


async def test_same_documents_and_results_as_per_result_updates(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = IntegrationsFacade(db_path)
    ids = [
        (await f.create_integration("t1", name=f"n{i}", provider_type="ollama")).id
        for i in range(6)
    ]
    other = (await f.create_integration("t2", name="x", provider_type="ollama")).id
    await f.aclose()
    twin = tmp_path / "twin" / "byok.json"
    twin.parent.mkdir()
    shutil.copy(db_path, twin)

    outcomes = [
        {"integration_id": ids[0], "state": HealthState.HEALTHY, "reason": "ok",
         "message": "fine", "latency_ms": 12, "checked_at": "2026-05-01T00:00:00.000000Z"},
        {"integration_id": ids[1], "state": HealthState.FAILING, "reason": "credential_error",
         "message": "gone", "latency_ms": None, "checked_at": "2026-05-01T00:00:01.000000Z",
         "credential_unusable": True},
        {"integration_id": other, "state": HealthState.HEALTHY, "reason": "ok",
         "checked_at": "2026-05-01T00:00:02.000000Z"},  # another tenant's: untouched
        {"integration_id": "0" * 32, "state": HealthState.HEALTHY, "reason": "ok",
         "checked_at": "2026-05-01T00:00:03.000000Z"},  # no such integration
        {"integration_id": ids[2], "state": HealthState.DEGRADED, "reason": "slow",
         "message": None, "latency_ms": 2500, "checked_at": "2026-05-01T00:00:04.000000Z",
         "extra": {"health_reason": "overridden", "x_extra": 1}},
        {"integration_id": ids[0], "state": HealthState.FAILING, "reason": "invalid_key",
         "message": "second result of the same one", "latency_ms": 3,
         "checked_at": "2026-05-01T00:00:05.000000Z"},
    ]  # fmt: skip
    new = IntegrationsFacade(db_path)
    old = IntegrationsFacade(twin)
    rebuilds: list[int] = []
    commits: list[int] = []
    original, commit = StrIdTable._update_table, new.context.store._commit
    monkeypatch.setattr(
        StrIdTable, "_update_table", lambda s, u: (rebuilds.append(1), original(s, u))[1]
    )
    monkeypatch.setattr(new.context.store, "_commit", lambda d: (commits.append(1), commit(d))[1])
    got = new.context.repo.apply_health_many("t1", outcomes)
    assert rebuilds == [] and commits == [1]  # no table rebuild at all; one commit
    want = _reference(old.context.repo, "t1", outcomes)
    assert len(rebuilds) == 4  # the reference did rebuild once per applied result
    assert got == want
    assert [g is None for g in got] == [False, False, True, True, False, False]
    saved = orjson.loads(db_path.read_bytes())
    assert saved == orjson.loads(twin.read_bytes())
    assert saved[TABLE][ids[1]]["status"] == "error"
    assert saved[TABLE][ids[0]]["health_reason"] == "invalid_key"
    # the returned documents are copies: changing one changes nothing stored
    got[0]["health_reason"] = "changed"
    assert new.context.repo.get("t1", ids[0])["health_reason"] == "invalid_key"
    assert new.context.repo.apply_health_many("t1", outcomes[2:4]) == [None, None]
    assert commits == [1]  # nothing applied: nothing written
    await new.aclose()
    await old.aclose()


async def test_a_failed_batch_changes_nothing(db_path: Path) -> None:
    f = IntegrationsFacade(db_path)
    iid = (await f.create_integration("t1", name="n", provider_type="ollama")).id
    before = db_path.read_bytes()
    bad = [
        {"integration_id": iid, "state": HealthState.HEALTHY, "reason": "ok",
         "checked_at": "2026-05-01T00:00:00.000000Z"},
        {"integration_id": iid, "reason": "no state"},
    ]  # fmt: skip
    with pytest.raises(KeyError):
        f.context.repo.apply_health_many("t1", bad)
    assert db_path.read_bytes() == before
    assert f.context.repo.get("t1", iid)["health_state"] == "unknown"
    await f.aclose()
