"""The health log: every probe's outcome, kept in a side file next to the database.

One document per integration (keyed by its id) holding its entries oldest first, so retention is
a slice and reading one integration's history touches one document. The file is an
AtomicJSONStorage, like the database: atomic, flock-locked, shared safely between processes.
Entries are not removed when an integration is deleted: its history stays readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.models import HealthLogEntry
from core.options import DEFAULTS
from core.storage import AtomicJSONStorage

TABLE = "log"


class HealthLog:
    """`retention`: entries kept per integration (the checked `health_log_retention` option)."""

    def __init__(
        self, path: Path, *, retention: int = DEFAULTS.health_log_retention, durable: bool = True
    ) -> None:
        self.retention = retention
        self.store = AtomicJSONStorage(path, schema=1, durable=durable)

    def append_many(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Append entries (dicts of HealthLogEntry fields plus tenant_id) in one commit."""
        batch = list(entries)
        if not batch:
            return 0
        with self.store.transaction():
            data = self.store.read() or {}
            table: dict[str, Any] = data.setdefault(TABLE, {})
            for entry in batch:
                iid = entry["integration_id"]
                doc = table.get(iid)
                if doc is None:
                    doc = table[iid] = {"tenant_id": entry["tenant_id"], "entries": []}
                doc["entries"].append({k: v for k, v in entry.items() if k != "tenant_id"})
                if len(doc["entries"]) > self.retention:
                    del doc["entries"][: len(doc["entries"]) - self.retention]
            self.store.write(data)
        return len(batch)

    def read(
        self, tenant_id: str, integration_id: str | None = None, limit: int = 100
    ) -> list[HealthLogEntry]:
        """Newest first, only the tenant's entries."""
        table: Mapping[str, Any] = self.store.snapshot().get(TABLE, {})
        if integration_id is not None:
            docs = [table[integration_id]] if integration_id in table else []
        else:
            docs = list(table.values())
        rows: list[Mapping[str, Any]] = []
        for doc in docs:
            if doc.get("tenant_id") != tenant_id:
                continue
            rows.extend(doc.get("entries", ())[-limit:])
        # checked_at is fixed-width ISO text, so it sorts in time order; seq breaks ties.
        rows.sort(key=lambda e: (e["checked_at"], e.get("seq", 0)), reverse=True)
        return [HealthLogEntry.model_validate(e) for e in rows[:limit]]

    def close(self) -> None:
        self.store.close()
