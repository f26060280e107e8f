"""Alerts on their way to the channels: a durable outbox in `byok.watch.json`.

An event is put in the outbox, one item per channel, in the same commit that records the event
as fired, so a watcher killed at any instant either has the item (and delivers it after its
restart) or has not fired the event (and fires it again). An item leaves `pending` only when the
channel accepted it (`delivered`, committed at once) or after `max_attempts` failures (`dead`).
A watcher killed between the channel's acceptance and that commit delivers the item again after
its restart: at least once, never twice after the acceptance was recorded. Each message carries
the event's key, for a receiver that wants to drop such a repeat.

Failed attempts back off exponentially (`base_s` x 2^(attempt - 1), at most `max_backoff_s`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.watch.state import WatchState

RETAIN_US = 62 * 86_400 * 1_000_000  # delivered or dead items: kept two months, then dropped


class Delivery(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class Event:
    """Something to tell people, once: `key` names it for ever (a repeat of a key is ignored)."""

    key: str
    tenant_id: str
    integration_id: str | None
    kind: str
    title: str
    body: str
    created_us: int
    alert_id: str | None = None  # the usage alert it announces, if any


@dataclass(frozen=True)
class Retry:
    max_attempts: int = 8
    base_s: float = 5.0
    max_backoff_s: float = 900.0

    def delay_us(self, attempts: int) -> int:
        return int(min(self.base_s * 2 ** (attempts - 1), self.max_backoff_s) * 1_000_000)


def item_id(key: str, channel: str) -> str:
    return hashlib.sha256(f"{key}\0{channel}".encode()).hexdigest()[:24]


class Outbox:
    def __init__(self, state: WatchState, retry: Retry | None = None) -> None:
        self.state = state
        self.retry = retry or Retry()

    def fire(
        self,
        events: Iterable[Event],
        channels: Iterable[str],
        now_us: int,
        seen_updates: Mapping[str, dict[str, Any] | None] | None = None,
    ) -> list[Event]:
        """Record the events not fired before, with an item per channel, and the rules' own
        `seen` entries (None deletes one), in one commit; the events that were new."""
        names = sorted(set(channels))
        new: list[Event] = []
        with self.state.change() as tables:
            seen, outbox = tables["seen"], tables["outbox"]
            for key, value in (seen_updates or {}).items():
                if value is None:
                    seen.pop(key, None)
                else:
                    seen[key] = value
            for event in events:
                if f"event:{event.key}" in seen:
                    continue
                new.append(event)
                # what was raised, kept whether or not a channel takes it (`get_watch_alerts`)
                seen[f"event:{event.key}"] = {
                    "kind": "event",
                    "created_us": event.created_us,
                    "event": event.kind,
                    "tenant_id": event.tenant_id,
                    "integration_id": event.integration_id,
                    "alert_id": event.alert_id,
                    "title": event.title,
                    "body": event.body,
                }
                for channel in names:
                    outbox[item_id(event.key, channel)] = {
                        "key": event.key,
                        "channel": channel,
                        "tenant_id": event.tenant_id,
                        "integration_id": event.integration_id,
                        "alert_id": event.alert_id,
                        "kind": event.kind,
                        "title": event.title,
                        "body": event.body,
                        "state": Delivery.PENDING.value,
                        "attempts": 0,
                        "next_us": now_us,
                        "last_error": None,
                        "created_us": event.created_us,
                        "delivered_us": None,
                    }
            self._prune(tables, now_us)
        return new

    def due(self, now_us: int) -> list[tuple[str, dict[str, Any]]]:
        items = self.state.tables()["outbox"].items()
        ready = [
            (iid, doc)
            for iid, doc in items
            if doc["state"] == Delivery.PENDING.value and doc["next_us"] <= now_us
        ]
        return sorted(ready, key=lambda pair: (pair[1]["created_us"], pair[0]))

    def claim(self, iid: str, holder: str, now_us: int, for_us: int) -> dict[str, Any] | None:
        """Take a due item for a delivery attempt, if `holder` still holds the watcher lease (in
        the same commit: a watcher that lost it while stalled sends nothing more) and nobody
        else's claim on it is live. The item, or None. A claim ends with `delivered`, `failed`
        or its expiry (a watcher killed mid-attempt: the next one tries again)."""
        with self.state.change() as tables:
            lease = tables["lease"].get("watcher")
            if lease is None or lease.get("holder") != holder or lease["expires_us"] <= now_us:
                return None
            doc = tables["outbox"].get(iid)
            if (
                doc is None
                or doc["state"] != Delivery.PENDING.value
                or doc["next_us"] > now_us
                or doc.get("claim_until_us", 0) > now_us
            ):
                return None
            doc = {**doc, "claimed_by": holder, "claim_until_us": now_us + for_us}
            tables["outbox"][iid] = doc
            return doc

    def delivered(self, iid: str, now_us: int) -> None:
        with self.state.change() as tables:
            doc = tables["outbox"].get(iid)
            if doc is not None:
                tables["outbox"][iid] = {
                    **doc,
                    "state": Delivery.DELIVERED.value,
                    "attempts": doc["attempts"] + 1,
                    "delivered_us": now_us,
                    "last_error": None,
                    "claim_until_us": 0,
                }

    def failed(self, iid: str, error: str, now_us: int) -> Delivery:
        """Count a failed attempt; the item's state after it (pending again, or dead)."""
        with self.state.change() as tables:
            doc = tables["outbox"].get(iid)
            if doc is None or doc["state"] != Delivery.PENDING.value:
                return Delivery(doc["state"]) if doc else Delivery.DEAD
            attempts = doc["attempts"] + 1
            dead = attempts >= self.retry.max_attempts
            state = Delivery.DEAD if dead else Delivery.PENDING
            tables["outbox"][iid] = {
                **doc,
                "state": state.value,
                "attempts": attempts,
                "next_us": now_us + self.retry.delay_us(attempts),
                "last_error": error[:500],
                "claim_until_us": 0,
            }
            return state

    def items(self) -> list[dict[str, Any]]:
        """Every item, newest first, with its id."""
        rows = [{"id": iid, **doc} for iid, doc in self.state.tables()["outbox"].items()]
        return sorted(rows, key=lambda d: (d["created_us"], d["id"]), reverse=True)

    def depth(self) -> dict[str, int]:
        counts = {state.value: 0 for state in Delivery}
        for doc in self.state.tables()["outbox"].values():
            counts[doc["state"]] = counts.get(doc["state"], 0) + 1
        return counts

    @staticmethod
    def _prune(tables: dict[str, dict[str, dict[str, Any]]], now_us: int) -> None:
        cutoff = now_us - RETAIN_US
        outbox, seen = tables["outbox"], tables["seen"]
        for iid in [
            i
            for i, d in outbox.items()
            if d["state"] != Delivery.PENDING.value and d["created_us"] < cutoff
        ]:
            del outbox[iid]
        for key in [k for k, d in seen.items() if d.get("kind") == "event"]:
            if seen[key]["created_us"] < cutoff:
                del seen[key]
