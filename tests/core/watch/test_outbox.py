"""The outbox and the lease over the real `byok.watch.json`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.watch.lease import Lease, current
from core.watch.outbox import Delivery, Event, Outbox, Retry
from core.watch.state import WatchState

S = 1_000_000


def event(key: str, at: int = 0) -> Event:
    return Event(key, "t1", "i1", "budget_80", f"title {key}", "body", at)


def test_an_event_fires_once_per_channel_however_often_it_is_offered(db_path: Path) -> None:
    box = Outbox(WatchState(db_path))
    assert [e.key for e in box.fire([event("a"), event("b")], ["hook", "mail"], 0)] == ["a", "b"]
    assert box.fire([event("a")], ["hook", "mail"], 1) == []
    # another process's view of the same file agrees
    other = Outbox(WatchState(db_path))
    assert {(i["key"], i["channel"]) for i in other.items()} == {
        ("a", "hook"),
        ("a", "mail"),
        ("b", "hook"),
        ("b", "mail"),
    }
    assert other.fire([event("b")], ["hook"], 2) == []
    assert stat.S_IMODE(os.stat(box.state.path).st_mode) == 0o600


def test_failures_back_off_then_die_and_a_delivery_is_final(db_path: Path) -> None:
    box = Outbox(WatchState(db_path), Retry(max_attempts=3, base_s=10, max_backoff_s=15))
    box.fire([event("a")], ["hook"], 0)
    ((iid, _),) = box.due(0)
    assert box.failed(iid, "down", 0) == Delivery.PENDING
    assert box.due(9 * S) == []  # 10 s after the first failure
    assert [i for i, _ in box.due(10 * S)] == [iid]
    assert box.failed(iid, "down", 10 * S) == Delivery.PENDING
    assert box.due(24 * S) == [] and box.due(25 * S) != []  # capped at 15 s
    assert box.failed(iid, "still down", 25 * S) == Delivery.DEAD
    assert box.due(10_000 * S) == []
    (item,) = box.items()
    assert item["state"] == "dead" and item["attempts"] == 3 and item["last_error"] == "still down"
    assert box.depth() == {"pending": 0, "delivered": 0, "dead": 1}

    box.fire([event("b")], ["hook"], 0)
    ((iid_b, _),) = box.due(0)
    box.delivered(iid_b, 5)
    assert box.failed(iid_b, "late failure", 6) == Delivery.DELIVERED  # never reopened
    assert box.due(10_000 * S) == []


def test_finished_items_are_dropped_after_two_months_and_pending_ones_never(
    db_path: Path,
) -> None:
    box = Outbox(WatchState(db_path))
    box.fire([event("old", 0), event("stuck", 0)], ["hook"], 0)
    done = next(i for i in box.items() if i["key"] == "old")
    box.delivered(done["id"], 1)
    later = 63 * 86_400 * S
    box.fire([event("new", later)], ["hook"], later)
    assert sorted(i["key"] for i in box.items()) == ["new", "stuck"]


def test_one_lease_holder_and_a_takeover_after_its_ttl(db_path: Path) -> None:
    state = WatchState(db_path)
    first, second = Lease(state, ttl_s=30), Lease(WatchState(db_path), ttl_s=30)
    assert first.acquire(0) and not second.acquire(1 * S)
    assert first.acquire(20 * S)  # renewed: good until 50 s
    assert not second.acquire(49 * S)
    info = current(state, 49 * S)
    assert info is not None and info.holder == first.holder and info.since_us == 0
    assert second.acquire(50 * S)  # the first went silent
    assert not first.acquire(51 * S) and not first.held
    second.release()
    assert current(state, 52 * S) is None
    assert first.acquire(52 * S)


def test_only_the_lease_holder_claims_and_a_claim_excludes_others_until_it_ends(
    db_path: Path,
) -> None:
    state = WatchState(db_path)
    box = Outbox(state)
    a, b = Lease(state, ttl_s=30), Lease(WatchState(db_path), ttl_s=30)
    box.fire([event("x"), event("y")], ["hook"], 0)
    (x, _), (y, _) = box.due(0)
    assert a.acquire(0)
    assert box.claim(x, b.holder, 1, 60 * S) is None  # b holds no lease
    assert box.claim(x, a.holder, 1, 60 * S) is not None
    assert box.claim(x, a.holder, 2, 60 * S) is None  # claimed already
    # a stalls; b takes over: a can claim nothing more, and b waits for a's claim to expire
    assert b.acquire(31 * S)
    assert box.claim(y, a.holder, 32 * S, 60 * S) is None
    assert box.claim(x, b.holder, 32 * S, 60 * S) is None
    assert box.claim(y, b.holder, 32 * S, 60 * S) is not None
    assert b.acquire(55 * S)
    assert box.claim(x, b.holder, 61 * S + 1, 60 * S) is not None  # a's claim ran out
    box.failed(x, "down", 62 * S)
    assert box.claim(x, b.holder, 62 * S, 60 * S) is None  # backing off


async def test_the_watchers_alerts_are_listed_with_their_deliveries_channels_or_none(
    db_path: Path,
) -> None:
    from core import IntegrationsFacade

    facade = IntegrationsFacade(db_path)
    try:
        kept = await facade.create_integration("t1", name="kept", provider_type="ollama")
        gone = await facade.create_integration("t1", name="gone", provider_type="ollama")
        box = Outbox(WatchState(db_path))
        box.fire([Event("health/a", "t1", kept.id, "health_failing", "byok: kept", "b1", 1 * S)],
                 [], 1 * S)  # fmt: skip
        box.fire(
            [
                Event("runway/x", "t1", None, "runway_low", "byok: low", "b2", 2 * S),
                Event("drift/y", "t1", gone.id, "spend_drift", "byok: drift", "b3", 3 * S),
                Event("usage/z", "t1", kept.id, "budget_80", "u", "u", 4 * S, alert_id="al"),
                Event("health/o", "t2", None, "health_failing", "other tenant", "o", 5 * S),
            ],
            ["hook"],
            2 * S,
        )
        ((iid, _),) = [(i, d) for i, d in box.due(2 * S) if d["key"] == "drift/y"]
        box.delivered(iid, 6 * S)
        await facade.delete_integration("t1", gone.id)

        alerts = await facade.get_watch_alerts("t1")
        # newest first; the usage alert is get_alerts's, the other tenant's is not listed
        assert [a.id for a in alerts] == ["drift/y", "runway/x", "health/a"]
        drift, runway, health = alerts
        assert (drift.kind, drift.integration_id, drift.integration_name) == (
            "spend_drift", gone.id, None)  # fmt: skip
        assert [(d.channel, d.state) for d in drift.deliveries] == [("hook", "delivered")]
        assert [(d.channel, d.state) for d in runway.deliveries] == [("hook", "pending")]
        assert health.deliveries == []  # raised when no channel was set up: still listed
        assert (health.integration_name, health.title, health.message) == ("kept", "byok: kept",
                                                                           "b1")  # fmt: skip
        assert [a.id for a in await facade.get_watch_alerts("t1", kept.id)] == ["health/a"]
        assert [a.id for a in await facade.get_watch_alerts("t1", limit=1)] == ["drift/y"]
    finally:
        await facade.aclose()


async def test_no_watcher_no_alerts_and_no_file(db_path: Path) -> None:
    from core import IntegrationsFacade
    from core.paths import side_file

    facade = IntegrationsFacade(db_path)
    try:
        assert await facade.get_watch_alerts("t1") == []
        assert not side_file(db_path, "watch").exists()
    finally:
        await facade.aclose()
