"""`byok.watch.json`: the lease, the outbox and what the rules have seen, in one durable file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.paths import side_file
from core.storage import AtomicJSONStorage

TABLES = ("lease", "outbox", "seen")


class WatchState:
    """The watcher's file. `tables()` reads the last commit; `change()` is a locked transaction
    that hands out the tables as plain dicts and commits them once (fsynced when durable)."""

    def __init__(self, db_path: Path, *, durable: bool = True, create: bool = True) -> None:
        self.path = side_file(db_path, "watch")
        self.store = AtomicJSONStorage(self.path, durable=durable, create=create)

    def tables(self) -> dict[str, dict[str, dict[str, Any]]]:
        data = self.store.snapshot()
        return {name: data.get(name, {}) for name in TABLES}

    @contextmanager
    def change(self) -> Iterator[dict[str, dict[str, dict[str, Any]]]]:
        with self.store.transaction() as db:
            data = db.storage.read()
            if data is None:  # pragma: no cover - a transaction always has a document
                raise StoreError(f"cannot read {self.path}", str(self.path))
            tables = {name: dict(data.get(name, {})) for name in TABLES}
            yield tables
            for name, table in tables.items():
                data[name] = table
            db.storage.write(data)

    def close(self) -> None:
        self.store.close()


def deliveries_by_alert(db_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The outbox's items of each usage alert (by alert id), for `get_alerts`: nothing when no
    watcher ever ran on this database (and then no file is created)."""
    if not side_file(db_path, "watch").exists():
        return {}
    from core.timeutil import from_us

    state = WatchState(db_path, create=False)
    try:
        items = state.tables()["outbox"].values()
    finally:
        state.close()
    out: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(items, key=lambda i: i["channel"]):
        if item.get("alert_id"):
            out.setdefault(item["alert_id"], []).append(
                {
                    "channel": item["channel"],
                    "state": item["state"],
                    "attempts": item["attempts"],
                    "last_error": item["last_error"],
                    "delivered_at": from_us(item["delivered_us"]) if item["delivered_us"] else None,
                }
            )
    return out
