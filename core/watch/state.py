"""`byok.watch.json`: the lease, the outbox and what the rules have seen, in one durable file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


Tables = dict[str, dict[str, dict[str, Any]]]


def read_tables(db_path: Path) -> Tables | None:
    """The file's tables; None when no watcher ever ran on this database (none is created)."""
    if not side_file(db_path, "watch").exists():
        return None
    state = WatchState(db_path, create=False)
    try:
        return state.tables()
    finally:
        state.close()


def _deliveries(items: Iterable[dict[str, Any]], field: str) -> dict[str, list[dict[str, Any]]]:
    """The outbox's items grouped by `field` (an alert id, an event key), by channel."""
    from core.timeutil import from_us

    out: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(items, key=lambda i: i["channel"]):
        if item.get(field):
            out.setdefault(item[field], []).append(
                {
                    "channel": item["channel"],
                    "state": item["state"],
                    "attempts": item["attempts"],
                    "last_error": item["last_error"],
                    "delivered_at": from_us(item["delivered_us"]) if item["delivered_us"] else None,
                }
            )
    return out


def deliveries_by_alert(tables: Tables | None) -> dict[str, list[dict[str, Any]]]:
    """The outbox's items of each usage alert (by alert id), for `get_alerts`."""
    return {} if tables is None else _deliveries(tables["outbox"].values(), "alert_id")


def watch_alerts(
    tables: Tables | None, tenant_id: str, integration_id: str | None, limit: int
) -> list[dict[str, Any]]:
    """The alerts the watcher's own rules raised (health transitions, low runway, drift: not
    the usage alerts, which `get_alerts` lists), newest first, each with its key, what was
    raised and its deliveries (none when no channel is set up). Kept as long as the outbox
    keeps its delivered items (RETAIN_US); an event recorded by a byok that kept no content is
    left out."""
    if tables is None:
        return []
    raised = [
        {"key": key.removeprefix("event:"), **doc}
        for key, doc in tables["seen"].items()
        if key.startswith("event:")
        and "title" in doc
        and not doc.get("alert_id")
        and doc.get("tenant_id") == tenant_id
        and integration_id in (None, doc.get("integration_id"))
    ]
    raised.sort(key=lambda d: (d["created_us"], d["key"]), reverse=True)
    deliveries = _deliveries(tables["outbox"].values(), "key")
    return [{**d, "deliveries": deliveries.get(d["key"], [])} for d in raised[:limit]]
