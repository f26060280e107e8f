"""What the watcher's file says, for the console and `byok watch status`: whether a watcher runs
(its lease: holder, since when; stale when its holder died) and the outbox, item by item.

Read only: a database no watcher ever ran on has no file, and none is created.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.paths import side_file
from core.timeutil import from_us
from core.watch.lease import KEY, LeaseInfo
from core.watch.outbox import Delivery
from core.watch.state import WatchState


@dataclass(frozen=True)
class OutboxItem:
    """One alert's delivery to one channel."""

    id: str
    tenant_id: str
    channel: str
    kind: str
    title: str
    state: str  # pending, delivered, dead
    attempts: int
    last_error: str | None  # the channel's words, shown literally
    integration_id: str | None
    alert_id: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_at: datetime | None  # a pending item's next attempt


@dataclass(frozen=True)
class WatcherStatus:
    lease: LeaseInfo | None
    """The lease last written; None when no watcher holds one (none ran, or it stopped
    cleanly and released it)."""
    stale: bool
    """The lease's holder died: its lease expired, or its process is gone (same host)."""
    outbox: list[OutboxItem] = field(default_factory=list)  # newest first
    depth: dict[str, int] = field(default_factory=dict)  # items by state

    @property
    def running(self) -> bool:
        return self.lease is not None and not self.stale


def _gone(lease: LeaseInfo) -> bool:
    if lease.host != socket.gethostname():
        return False  # another host's process: only its lease's expiry tells
    try:
        os.kill(lease.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


PLAIN = ("tenant_id", "channel", "kind", "title", "state", "attempts", "last_error",
         "integration_id", "alert_id")  # fmt: skip


def _item(iid: str, d: dict[str, Any]) -> OutboxItem:
    pending = d["state"] == Delivery.PENDING.value
    return OutboxItem(
        id=iid,
        **{name: d.get(name) for name in PLAIN},
        created_at=from_us(d["created_us"]),
        delivered_at=from_us(d["delivered_us"]) if d.get("delivered_us") else None,
        next_at=from_us(d["next_us"]) if pending and d.get("next_us") else None,
    )


def watcher_status(
    db_path: Path, now_us: int, *, tenant_id: str | None = None, items: int | None = 1000
) -> WatcherStatus | None:
    """The watcher and its outbox (of `tenant_id`'s alerts, or all; up to `items`, newest first;
    0: the counts only); None when no watcher ever ran on this database."""
    if not side_file(db_path, "watch").exists():
        return None
    state = WatchState(db_path, create=False)
    try:
        tables = state.tables()
    finally:
        state.close()
    doc = tables["lease"].get(KEY)
    lease = LeaseInfo.from_doc(doc) if doc is not None else None
    stale = lease is not None and (lease.expires_us <= now_us or _gone(lease))
    outbox = {
        i: d for i, d in tables["outbox"].items() if tenant_id in (None, d.get("tenant_id"))
    }
    depth = {s.value: 0 for s in Delivery}
    for d in outbox.values():
        depth[d["state"]] = depth.get(d["state"], 0) + 1
    newest = sorted(outbox.items(), key=lambda p: (p[1]["created_us"], p[0]), reverse=True)
    shown = newest if items is None else newest[:items]
    return WatcherStatus(lease, stale, [_item(i, d) for i, d in shown], depth)
