"""The limits from each source (recorded, reported, max) after a real sync over HTTP against the
fake provider's admin routes; the period's bounds; the compact store's migration and sweep."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.clock import Clock

from core.enums import Decision
from core.errors import StoreError, ValidationError
from core.facade import IntegrationsFacade
from core.paths import side_file
from core.readside import Dashboard
from core.spend.store import SEGMENT_SUFFIX, SpendStore, segment_dir
from tui.demo.fakeadmin import Use
from tui.demo.fakeprovider import FakeProviderServer

KEY_A = "sk-proj-" + "a" * 40 + "1111"
ADMIN = "sk-admin-" + "z" * 40
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # six hours into December


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as s:
        s.admin.openai_keys = [("proj_1", "key_A", "sk-pro...1111")]
        # two hours in November, three in December: the month counts only the December ones
        for hours in (8, 7, 5, 4, 3):
            s.admin.usage["openai"].append(
                Use(NOW - timedelta(hours=hours), "key_A", "gpt-4o", 10_000, 1_000)
            )
        yield s


@pytest.fixture
async def synced(db_path: Path, server: FakeProviderServer) -> Any:
    clock = Clock(NOW)
    facade = IntegrationsFacade(db_path, clock=clock)
    made = await facade.create_integration(
        "default",
        name="a",
        provider_type="openai",
        credential=KEY_A,
        budget_limit_cents=1000,
        token_limit_month=100_000,
    )
    spend = facade.spend()
    spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
    [report] = spend.sync("default", days=2)
    assert report["ok"] and report["linked"], report
    yield facade, made.id, clock
    await facade.aclose()


def _december(facade: IntegrationsFacade, iid: str) -> tuple[float, int]:
    rows = facade.spend().report("default", iid)["days"]
    dec = [r for r in rows if r["period_start"].startswith("2026-12")]
    return round(sum(r["reported_cents"] for r in dec), 4), sum(r["reported_tokens"] for r in dec)


async def test_without_spend_data_the_status_is_recorded_only(db_path: Path) -> None:
    facade = IntegrationsFacade(db_path, clock=Clock(NOW))
    try:
        made = await facade.create_integration(
            "default", name="x", provider_type="openai", credential=KEY_A, budget_limit_cents=100
        )
        await facade.record_usage(
            "default", made.id, model="m", input_tokens=5, output_tokens=5, cost_cents=40
        )
        s = await facade.get_limits_status("default", made.id)
        assert s is not None
        assert (s.budget_used_cents, s.budget_percent, s.tokens_used_month) == (40, 40.0, 10)
        assert (s.limits_source, s.budget_source, s.tokens_source) == (
            "max",
            "recorded",
            "recorded",
        )
        assert (s.recorded_cents, s.recorded_tokens) == (40, 10)
        assert s.reported_cents is None and s.reported_tokens is None
        assert s.reported_synced_at is None
        assert not side_file(db_path, "spend").exists()  # reading created nothing
        # `reported` counts the provider's figure alone: nothing synced is 0, said so
        await facade.update_integration("default", made.id, limits_source="reported")
        s = await facade.get_limits_status("default", made.id)
        assert s is not None and (s.budget_used_cents, s.tokens_used_month) == (0, 0)
        assert (s.budget_source, s.recorded_cents, s.reported_cents) == ("reported", 40, None)
    finally:
        await facade.aclose()


async def test_max_takes_the_reported_figure_when_nothing_was_recorded(synced) -> None:
    facade, iid, _ = synced
    cents, tokens = _december(facade, iid)
    assert tokens == 3 * 11_000 and cents > 0
    s = await facade.get_limits_status("default", iid)
    assert s is not None
    assert (s.budget_source, s.tokens_source) == ("reported", "reported")
    assert s.reported_cents == cents and s.reported_tokens == tokens
    assert s.tokens_used_month == tokens and s.token_percent == 33.0
    assert s.budget_used_cents == math.floor(cents + 0.5)  # half up, as recorded cents are
    assert s.budget_percent == pytest.approx(cents / 10)
    assert (s.recorded_cents, s.recorded_tokens) == (0, 0)
    assert s.reported_synced_at == NOW


async def test_recorded_and_reported_sources(synced) -> None:
    facade, iid, _ = synced
    _, tokens = _december(facade, iid)
    await facade.record_usage(
        "default", iid, model="gpt-4o", input_tokens=100, output_tokens=0, cost_cents=1
    )
    await facade.update_integration("default", iid, limits_source="recorded")
    s = await facade.get_limits_status("default", iid)
    assert s is not None and s.limits_source == "recorded"
    assert (s.budget_used_cents, s.tokens_used_month) == (1, 100)
    assert (s.budget_source, s.tokens_source) == ("recorded", "recorded")
    assert s.reported_tokens == tokens  # shown beside, not counted
    await facade.update_integration("default", iid, limits_source="reported")
    s = await facade.get_limits_status("default", iid)
    assert s is not None and s.tokens_used_month == tokens and s.budget_source == "reported"
    assert s.recorded_tokens == 100


async def test_max_counts_recorded_spend_the_provider_has_not_reported_yet(synced) -> None:
    facade, iid, clock = synced
    clock.advance(hours=2)  # after the sync: the provider's report lags these calls
    await facade.record_usage(
        "default", iid, model="gpt-4o", input_tokens=60_000, output_tokens=0, cost_cents=900
    )
    s = await facade.get_limits_status("default", iid)
    assert s is not None
    assert (s.budget_source, s.tokens_source) == ("recorded", "recorded")
    assert (s.budget_used_cents, s.tokens_used_month) == (900, 60_000)
    assert s.reported_synced_at == NOW  # the report is two hours old
    decision = await facade.check_limits("default", iid, estimated_cost_cents=100)
    assert decision is not None and decision.decision is Decision.BLOCKED
    assert "(reported)" not in decision.reasons[0]


async def test_check_limits_blocks_on_reported_spend_and_says_so(synced) -> None:
    facade, iid, _ = synced
    _, tokens = _december(facade, iid)
    await facade.update_integration("default", iid, token_limit_month=tokens)
    decision = await facade.check_limits("default", iid)
    assert decision is not None and decision.decision is Decision.BLOCKED
    assert decision.reasons == [
        f"token_limit_month reached: limit {tokens} tokens, used {tokens} (reported) + "
        f"estimate 0 = {tokens} tokens (100.0%)"
    ]
    await facade.update_integration("default", iid, limits_source="recorded")
    decision = await facade.check_limits("default", iid)
    assert decision is not None and decision.decision is Decision.ALLOWED


async def test_the_dashboard_shows_the_same_figures(synced, db_path: Path) -> None:
    facade, iid, _ = synced
    status = await facade.get_limits_status("default", iid)
    dash = Dashboard(db_path, clock=lambda: NOW, create=False)
    try:
        assert dash.limits("default", [iid])[iid].as_dict() == status.model_dump()
    finally:
        dash.close()


async def test_a_sync_by_another_facade_is_seen_at_the_next_read(
    synced, db_path: Path, server: FakeProviderServer
) -> None:
    facade, iid, clock = synced
    before = await facade.get_limits_status("default", iid)
    assert before is not None and before.reported_tokens == 33_000
    server.admin.usage["openai"].append(
        Use(NOW - timedelta(hours=2), "key_A", "gpt-4o", 10_000, 1_000)
    )
    other = IntegrationsFacade(db_path, clock=clock)
    try:
        assert all(r["ok"] for r in other.spend().sync("default", days=1))
    finally:
        await other.aclose()
    after = await facade.get_limits_status("default", iid)
    assert after is not None and after.reported_tokens == 44_000


async def test_limits_source_is_checked(db_path: Path) -> None:
    facade = IntegrationsFacade(db_path)
    try:
        with pytest.raises(ValidationError, match=r"recorded .* reported .* or max") as err:
            await facade.create_integration(
                "default",
                name="x",
                provider_type="openai",
                credential=KEY_A,
                limits_source="provider",
            )
        assert list(err.value.errors) == ["limits_source"]
        made = await facade.create_integration(
            "default", name="x", provider_type="openai", credential=KEY_A
        )
        assert made.limits_source == "max"
        with pytest.raises(ValidationError):
            await facade.update_integration("default", made.id, limits_source=3, name="y")
        again = await facade.get_integration("default", made.id)
        assert again is not None and again.name == "x" and again.limits_source == "max"
        done = await facade.update_integration("default", made.id, limits_source=" Reported ")
        assert done is not None and done.limits_source == "reported"
    finally:
        await facade.aclose()


def _segments(db_path: Path) -> list[str]:
    return sorted(p.name for p in segment_dir(side_file(db_path, "spend")).iterdir())


async def test_replaced_segments_and_orphans_are_swept(synced, db_path: Path) -> None:
    facade, _, _ = synced
    spend = facade.spend()
    seg_dir = segment_dir(side_file(db_path, "spend"))
    (seg_dir / f"usage-orphan{SEGMENT_SUFFIX}").write_bytes(b"{}")  # a killed writer's
    (seg_dir / ".usage-x.seg.json.1.tmp").write_bytes(b"")
    for _ in range(3):
        spend.sync("default", days=2)
    names = _segments(db_path)
    used = {d["seg"] for d in spend.store.table("days").values()}
    assert set(names) == used  # nothing else left: neither the orphans nor replaced windows
    for name in names:
        assert (seg_dir / name).stat().st_mode & 0o777 == 0o600


def test_a_schema_1_file_is_migrated_to_segments(tmp_path: Path) -> None:
    path = tmp_path / "byok.spend.json"
    hours = [
        {
            "key": "k1",
            "model": "gpt-4o",
            "start": f"2026-11-14T{h:02d}:00:00Z",
            "in": 10,
            "out": 1,
            "cached": 2,
            "cache_write": 0,
            "req": 1,
            "cents": 0.5,
        }
        for h in range(24)
    ]
    v1 = {
        "_meta": {"1": {"schema": 1, "app": "byok-console"}},
        "accounts": {},
        "links": {
            "i1": {"tenant_id": "t", "account_id": "acc", "provider_key_id": "k1", "how": "auto"}
        },
        "days": {
            "acc|usage|2026-11-14": {
                "tenant_id": "t",
                "account_id": "acc",
                "kind": "usage",
                "day": "2026-11-14",
                "synced_at": "2026-11-15T00:00:00+00:00",
                "rows": hours,
            },
            "acc|cost|2026-11-14": {
                "tenant_id": "t",
                "account_id": "acc",
                "kind": "cost",
                "day": "2026-11-14",
                "synced_at": "2026-11-15T00:00:00+00:00",
                "rows": [{"day": "2026-11-14", "cents": 150.0, "item": None}],
            },
        },
        "balances": {},
        "marks": {"acc|usage": {"end": "2026-11-15T00:00:00+00:00"}},
    }
    path.write_bytes(orjson.dumps(v1))
    store = SpendStore(path)
    try:
        usage = store.days("t", "usage")
        assert usage[0]["rows"] == [
            {
                "key": "k1",
                "model": "gpt-4o",
                "in": 240,
                "out": 24,
                "cached": 48,
                "cache_write": 0,
                "req": 24,
                "cents": 12.0,
            }
        ]
        assert store.days("t", "cost")[0]["rows"] == [{"key": None, "item": None, "cents": 150.0}]
        assert store.mark("acc", "usage") == "2026-11-15T00:00:00+00:00"
    finally:
        store.close()
    stored = json.loads(path.read_text())
    assert stored["_meta"]["1"]["schema"] == 2 and "pending" not in stored
    assert all("rows" not in d and d["seg"] for d in stored["days"].values())
    assert len(list(segment_dir(path).iterdir())) == 2  # one per account and kind


async def test_a_segment_removed_by_hand_is_a_clear_store_error(synced, db_path: Path) -> None:
    _, iid, clock = synced
    for seg in segment_dir(side_file(db_path, "spend")).iterdir():
        seg.unlink()
    later = IntegrationsFacade(db_path, clock=clock)  # the next command (this one's read is cached)
    try:
        with pytest.raises(StoreError, match=r"is missing .* run byok sync --days N again"):
            await later.get_limits_status("default", iid)
    finally:
        await later.aclose()


async def test_a_cost_the_provider_reports_for_the_key_replaces_its_priced_tokens(synced) -> None:
    facade, iid, _ = synced
    spend = facade.spend()
    account = spend.accounts.list("default")[0]
    # as a provider that reports cost per API key answers (a cost row with its key), for Dec 1;
    # a row without a key is organisation-wide and no key's
    spend.store.commit_window(
        "default", account.id, "cost", {"2026-12-01": [["key_A", None, 500.0], [None, None, 9.0]]},
        NOW.isoformat(), NOW.isoformat(),
    )  # fmt: skip
    s = await facade.get_limits_status("default", iid)
    assert s is not None and s.reported_cents == 500.0 and s.budget_used_cents == 500
    assert s.reported_tokens == 33_000  # the tokens are still the usage report's


async def test_a_sync_raises_the_thresholds_the_reported_spend_reaches_once(
    db_path: Path, server: FakeProviderServer
) -> None:
    clock = Clock(NOW)
    facade = IntegrationsFacade(db_path, clock=clock)
    try:
        made = await facade.create_integration(
            "default", name="a", provider_type="openai", credential=KEY_A,
            token_limit_month=40_000, alert_thresholds=[50, 80, 100],
        )  # fmt: skip
        spend = facade.spend()
        spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
        assert all(r["ok"] for r in spend.sync("default", days=2))
        # December's three reported hours: 33,000 tokens of 40,000 = 82.5 %
        alerts = await facade.get_alerts("default")
        assert sorted((a.kind, a.threshold, a.source) for a in alerts) == [
            ("tokens", 50, "reported"), ("tokens", 80, "reported")]  # fmt: skip
        assert all(a.used == 33_000 and a.period == "2026-12" for a in alerts)
        assert alerts[0].message.endswith("33000 of 40000 tokens (reported by the provider)")
        # a re-sync raises nothing again; recording to the same threshold neither
        assert all(r["ok"] for r in spend.sync("default", days=2))
        await facade.record_usage(
            "default", made.id, model="gpt-4o", input_tokens=34_000, output_tokens=0,
            cost_cents=1,
        )  # fmt: skip
        assert len(await facade.get_alerts("default")) == 2
        # the provider reports more: the 100 % threshold, once
        server.admin.usage["openai"].append(
            Use(NOW - timedelta(hours=1), "key_A", "gpt-4o", 10_000, 0)
        )
        clock.advance(minutes=5)
        assert all(r["ok"] for r in spend.sync("default", days=1))
        latest = (await facade.get_alerts("default"))[0]
        assert (latest.threshold, latest.used, latest.source) == (100, 43_000, "reported")
        assert len(await facade.get_alerts("default")) == 3
        # another process sees them (they are in the usage log, durable)
        other = IntegrationsFacade(db_path, clock=clock)
        try:
            assert len(await other.get_alerts("default", made.id)) == 3
        finally:
            await other.aclose()
    finally:
        await facade.aclose()


async def test_no_alert_from_reported_spend_where_the_limits_count_recorded_usage(
    db_path: Path, server: FakeProviderServer
) -> None:
    facade = IntegrationsFacade(db_path, clock=Clock(NOW))
    try:
        await facade.create_integration(
            "default", name="a", provider_type="openai", credential=KEY_A,
            token_limit_month=20_000, limits_source="recorded",
        )  # fmt: skip
        spend = facade.spend()
        spend.add_account("default", "org", "openai", ADMIN, server.base_url_for("openai"))
        assert all(r["ok"] for r in spend.sync("default", days=2))
        assert await facade.get_alerts("default") == []
    finally:
        await facade.aclose()


async def test_a_day_is_read_from_its_slice_and_an_older_index_reads_the_whole_segment(
    synced, db_path: Path
) -> None:
    facade, iid, clock = synced
    path = side_file(db_path, "spend")
    days = orjson.loads(path.read_bytes())["days"]
    assert days and all(len(d["at"]) == 2 for d in days.values())
    for doc in days.values():  # each slice is that day's rows, as the whole segment holds them
        raw = (segment_dir(path) / doc["seg"]).read_bytes()
        offset, length = doc["at"]
        whole = orjson.loads(raw)["days"][doc["day"]]
        assert orjson.loads(raw[offset : offset + length]) == whole
    before = await facade.get_limits_status("default", iid)
    # an index written before the ranges existed: the same figures, from the whole segment
    data = orjson.loads(path.read_bytes())
    for doc in data["days"].values():
        del doc["at"]
    path.write_bytes(orjson.dumps(data))
    other = IntegrationsFacade(db_path, clock=clock)
    try:
        after = await other.get_limits_status("default", iid)
    finally:
        await other.aclose()
    assert after is not None and before is not None
    assert (after.reported_cents, after.reported_tokens) == (
        before.reported_cents, before.reported_tokens)  # fmt: skip
