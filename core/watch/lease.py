"""Which process is the watcher: a lease in `byok.watch.json`, renewed while its holder lives.

A holder renews it every round; a lease not renewed for `ttl_s` is free, so a SIGKILLed
watcher's successor takes over within one ttl. Taking, renewing and releasing happen under the
file's lock, so two processes never both believe they hold it.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from core.watch.state import WatchState

KEY = "watcher"


@dataclass(frozen=True)
class LeaseInfo:
    holder: str
    pid: int
    host: str
    since_us: int
    renewed_us: int
    expires_us: int

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> LeaseInfo:
        return cls(**{name: doc[name] for name in cls.__dataclass_fields__})


class Lease:
    def __init__(self, state: WatchState, *, ttl_s: float = 30.0) -> None:
        self.state = state
        self.ttl_us = int(ttl_s * 1_000_000)
        self.holder = uuid.uuid4().hex
        self.held = False

    def acquire(self, now_us: int) -> bool:
        """Take the lease if it is free or already ours, and renew it; whether we hold it."""
        with self.state.change() as tables:
            doc = tables["lease"].get(KEY)
            ours = doc is not None and doc.get("holder") == self.holder
            if doc is not None and not ours and doc.get("expires_us", 0) > now_us:
                self.held = False
                return False
            since = doc["since_us"] if ours and doc is not None else now_us
            tables["lease"][KEY] = {
                "holder": self.holder,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since_us": since,
                "renewed_us": now_us,
                "expires_us": now_us + self.ttl_us,
            }
        self.held = True
        return True

    def release(self) -> None:
        if not self.held:
            return
        with self.state.change() as tables:
            doc = tables["lease"].get(KEY)
            if doc is not None and doc.get("holder") == self.holder:
                del tables["lease"][KEY]
        self.held = False


def current(state: WatchState, now_us: int) -> LeaseInfo | None:
    """The live lease (a watcher running), or None."""
    doc = state.tables()["lease"].get(KEY)
    if doc is None or doc.get("expires_us", 0) <= now_us:
        return None
    return LeaseInfo.from_doc(doc)
