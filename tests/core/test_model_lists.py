"""The last successful probe's model list: stored beside the database, read by any process,
rewritten only when it changes, scoped by tenant, dropped with its integration."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.providers import key_for, make

from core import IntegrationsFacade, ValidationError
from core.health.models_seen import MAX_MODELS, ModelLists
from tui.demo.fakeprovider import FakeProviderServer

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def test_a_probe_stores_the_list_and_another_process_reads_it(
    facade: IntegrationsFacade, fake_server: FakeProviderServer, db_path: Path
) -> None:
    iid = await make(facade, fake_server, "openai", key_for("ok"))
    assert await facade.get_models("t1", iid) == []  # no probe yet
    await facade.test_credentials("t1", iid)
    other = IntegrationsFacade(db_path)  # another process's view of the same files
    try:
        assert await other.get_models("t1", iid) == ["gpt-4.1", "gpt-4o", "gpt-4o-mini"]
        assert await other.get_models("t2", iid) == []  # another tenant sees nothing
    finally:
        await other.aclose()
    side = db_path.with_name(db_path.stem + ".models.json")
    assert stat.S_IMODE(os.stat(side).st_mode) == 0o600


async def test_a_failed_probe_keeps_the_last_good_list(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    iid = await make(facade, fake_server, "anthropic", key_for("ok"))
    await facade.test_credentials("t1", iid)
    good = await facade.get_models("t1", iid)
    assert good
    await facade.update_integration("t1", iid, credential=key_for("401"))
    result = await facade.test_credentials("t1", iid)
    assert result is not None and result.health_state.value == "failing"
    assert await facade.get_models("t1", iid) == good


async def test_delete_drops_the_list(
    facade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    iid = await make(facade, fake_server, "openai", key_for("ok"))
    await facade.test_credentials("t1", iid)
    assert await facade.get_models("t1", iid)
    await facade.delete_integration("t1", iid)
    assert await facade.get_models("t1", iid) == []


async def test_bad_ids_are_refused(facade: IntegrationsFacade) -> None:
    with pytest.raises(ValidationError):
        await facade.get_models("t1", "")
    with pytest.raises(ValidationError):
        await facade.get_models("t1", None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await facade.get_models("", "abc")


def test_same_list_writes_nothing_and_lists_are_cleaned(tmp_path: Path) -> None:
    lists = ModelLists(tmp_path / "byok.models.json", durable=False)
    try:
        assert lists.record("t1", [("a", ["b-model", "A-model", "b-model", "", "x" * 201], AT)])
        assert lists.get("t1", "a") == ["A-model", "b-model"]  # deduped, sorted, junk dropped
        before = lists.store.generation()
        assert lists.record("t1", [("a", ["A-model", "b-model"], AT)]) == 0
        assert lists.record("t1", [("a", [], AT)]) == 0  # an empty list is no news
        assert lists.store.generation() == before  # nothing was rewritten
        many = [f"m{i:05d}" for i in range(MAX_MODELS + 50)]
        assert lists.record("t1", [("a", many, AT)]) == 1
        assert len(lists.get("t1", "a")) == MAX_MODELS
    finally:
        lists.close()
