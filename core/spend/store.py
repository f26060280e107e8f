"""The spend side file, `byok.spend.json`: accounts, links, synced days, balances, watermarks.

One AtomicJSONStorage (whole-file atomic replace under flock), so a sync window is committed in
one transaction: every day of the window is replaced at once, or none is (a SIGKILL, a 5xx or a
bad page leaves the previous days as they were). A day is replaced whole, never added to, so a
re-sync cannot count a bucket twice.

Tables:
* `accounts`  id -> {tenant_id, name, provider, base_url, credential (the stored form), created_at}
* `links`     integration id -> {tenant_id, account_id, provider_key_id, how: auto|manual}
* `days`      "account|kind|YYYY-MM-DD" -> {tenant_id, account_id, kind, day, synced_at, rows}
* `balances`  account id -> {tenant_id, currency, amount, synced_at}
* `marks`     "account|kind" -> {end}: the end of the last committed window
* `syncs`     account id -> {tenant_id, at, ok, error, ambiguous, unmatched}: its last sync
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.storage import AtomicJSONStorage

Doc = dict[str, Any]
TABLES = ("accounts", "links", "days", "balances", "marks", "syncs")


def check_shape(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a spend file, or None."""
    for table in TABLES:
        for key, doc in data.get(table, {}).items():
            if table != "marks" and type(doc.get("tenant_id")) is not str:
                return f"{table} entry {key[:60]!r} has no tenant_id"
            if table == "days" and type(doc.get("rows")) is not list:
                return f"day {key[:60]!r} has no rows"
    return None


def day_key(account_id: str, kind: str, day: str) -> str:
    return f"{account_id}|{kind}|{day}"


class SpendStore:
    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.file = AtomicJSONStorage(path, schema=1, durable=durable, check=check_shape)

    def close(self) -> None:
        self.file.close()

    def table(self, name: str) -> Mapping[str, Doc]:
        return self.file.snapshot().get(name, {})

    def put(self, table: str, key: str, doc: Doc) -> None:
        with self.file.transaction():
            data = self.file.read() or {}
            data.setdefault(table, {})[key] = doc
            self.file.write(data)

    def drop(self, table: str, keys: Iterable[str]) -> None:
        with self.file.transaction(create=False):
            data = self.file.read() or {}
            rows = data.get(table, {})
            gone = [k for k in keys if k in rows]
            for key in gone:
                del rows[key]
            if gone:
                self.file.write(data)

    def remove_account(self, account_id: str) -> None:
        """The account and everything synced from it, in one commit."""
        with self.file.transaction(create=False):
            data = self.file.read() or {}
            data.get("accounts", {}).pop(account_id, None)
            data.get("balances", {}).pop(account_id, None)
            data.get("syncs", {}).pop(account_id, None)
            for table in ("links", "days", "marks"):
                rows = data.get(table, {})
                for key in [k for k, d in rows.items() if _of(k, d, account_id)]:
                    del rows[key]
            self.file.write(data)

    def commit_window(
        self,
        tenant_id: str,
        account_id: str,
        kind: str,
        days: Mapping[str, list[Doc]],
        synced_at: str,
        end: str,
    ) -> None:
        """Replace the days of one window (each given day, empty ones too) and move the
        watermark to `end`: one atomic commit."""
        with self.file.transaction():
            data = self.file.read() or {}
            table = data.setdefault("days", {})
            for day, rows in days.items():
                table[day_key(account_id, kind, day)] = {
                    "tenant_id": tenant_id,
                    "account_id": account_id,
                    "kind": kind,
                    "day": day,
                    "synced_at": synced_at,
                    "rows": rows,
                }
            data.setdefault("marks", {})[f"{account_id}|{kind}"] = {"end": end}
            self.file.write(data)

    def mark(self, account_id: str, kind: str) -> str | None:
        doc = self.table("marks").get(f"{account_id}|{kind}")
        return doc.get("end") if doc else None

    def days(self, tenant_id: str, kind: str | None = None) -> list[Doc]:
        return [
            d
            for d in self.table("days").values()
            if d["tenant_id"] == tenant_id and (kind is None or d.get("kind") == kind)
        ]

    def links_to(self, tenant_id: str) -> dict[str, Doc]:
        return {k: d for k, d in self.table("links").items() if d["tenant_id"] == tenant_id}

    def link_many(self, links: Mapping[str, Doc]) -> None:
        if not links:
            return
        with self.file.transaction():
            data = self.file.read() or {}
            data.setdefault("links", {}).update(links)
            self.file.write(data)


def _of(key: str, doc: Mapping[str, Any], account_id: str) -> bool:
    return doc.get("account_id") == account_id or key.startswith(f"{account_id}|")
