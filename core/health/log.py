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

from pydantic import ValidationError as ModelError

from core.enums import HealthState
from core.errors import StoreError
from core.models import HealthLogEntry
from core.options import DEFAULTS
from core.storage import AtomicJSONStorage

TABLE = "log"
_STATES = frozenset(h.value for h in HealthState)


def check_shape(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a health log file, or None (the fields the reader sorts and filters on;
    the rest is checked by HealthLogEntry when an entry is read)."""
    for iid, doc in data.get(TABLE, {}).items():
        entries = doc.get("entries")
        if type(doc.get("tenant_id")) is not str or type(entries) is not list:
            return f"the log of {iid[:40]!r} has no tenant_id or no list of entries"
        for entry in entries:
            try:
                if (
                    type(entry["checked_at"]) is str
                    and type(entry["integration_id"]) is str
                    and entry["health_state"] in _STATES
                    and type(entry["reason"]) is str
                ):
                    continue
            except (KeyError, TypeError):
                pass
            return f"the log of {iid[:40]!r} has an entry of the wrong shape"
    return None


class HealthLog:
    """`retention`: entries kept per integration (the checked `health_log_retention` option)."""

    def __init__(
        self, path: Path, *, retention: int = DEFAULTS.health_log_retention, durable: bool = True
    ) -> None:
        self.retention = retention
        self.store = AtomicJSONStorage(path, schema=1, durable=durable, check=check_shape)

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
        try:
            return [HealthLogEntry.model_validate(e) for e in rows[:limit]]
        except ModelError as exc:
            path = self.store.path
            raise StoreError(
                f"{path} holds a health log entry that is not valid ({exc.error_count()} "
                "errors); it was left untouched. Restore it from a backup or move it aside.",
                str(path),
            ) from None

    def close(self) -> None:
        self.store.close()
