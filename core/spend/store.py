"""The spend side file, `byok.spend.json`, and its segment directory `byok.spend.d/`.

`byok.spend.json` is one AtomicJSONStorage (whole-file atomic replace under flock) holding the
small tables: accounts, links, balances, watermarks, and an index of the synced days. The rows of
the days live in segment files: one file per committed window, written whole (fsync, rename)
under the same lock and never changed after, holding per day one row per key and model (the
providers' hourly buckets summed), so 90 days of 100 keys x 5 models is ~3 MB, not ~150 MB of
hourly rows rewritten on each commit.

A window commit writes its segment, then points each of its days at it and moves the watermark
in one commit of the index. So every day of the window is replaced at once, or none is (a
SIGKILL, a 5xx or a bad page leaves the previous days as they were; a segment written but not
committed is an orphan, removed by the next commit). A day is replaced whole, never added to, so a
re-sync cannot count a bucket twice. Segments no day points at are removed under the lock, at the
next commit: a reader holding the previous index still finds its files meanwhile.

Tables:
* `accounts`  id -> {tenant_id, name, provider, base_url, credential (the stored form), created_at}
* `links`     integration id -> {tenant_id, account_id, provider_key_id, how: auto|manual}
* `days`      "account|kind|YYYY-MM-DD" -> {tenant_id, account_id, kind, day, synced_at, seg,
              at: [offset, length] of the day's rows in seg: a reader parses that slice only;
              absent for a segment written before, which is then parsed whole}
* `balances`  account id -> {tenant_id, currency, amount_cents, burn7_cents, synced_at}
* `marks`     "account|kind" -> {end}: the end of the last committed window
* `syncs`     account id -> {tenant_id, at, ok, error, ambiguous, unmatched}: its last sync

Schema 1 kept each day's hourly rows inline; it is migrated on the first write (a reader sees
the same days meanwhile, from `pending`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from core.errors import StoreError
from core.storage import CLOEXEC, AtomicJSONStorage, ensure_private_dir, replace_file

Doc = dict[str, Any]
SCHEMA = 2
TABLES = ("accounts", "links", "days", "balances", "marks", "syncs")
# A stored row per kind: a list in this order (the names are those of the rows `days()` returns).
COLUMNS: dict[str, tuple[str, ...]] = {
    "usage": ("key", "model", "in", "out", "cached", "cache_write", "req", "cents"),
    "cost": ("key", "item", "cents"),  # key: None for organisation-wide cost
}
SEGMENT_SUFFIX = ".seg.json"


def check_shape(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a spend file, or None."""
    for table in TABLES:
        for key, doc in data.get(table, {}).items():
            if table != "marks" and type(doc.get("tenant_id")) is not str:
                return f"{table} entry {key[:60]!r} has no tenant_id"
            if table == "days" and (
                doc.get("kind") not in COLUMNS or type(doc.get("seg") or "") is not str
            ):
                return f"day {key[:60]!r} has no segment"
            at = doc.get("at") if table == "days" else None
            if at is not None and not (
                type(at) is list and len(at) == 2 and all(type(n) is int and n >= 0 for n in at)
            ):
                return f"day {key[:60]!r} has a bad segment range"
    return None


def day_key(account_id: str, kind: str, day: str) -> str:
    return f"{account_id}|{kind}|{day}"


def day_names(start: datetime, end: datetime) -> list[str]:
    """The UTC days that [start, end) touches, from the day holding `start`."""
    names = []
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        names.append(day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)
    return names


def segment_dir(path: Path) -> Path:
    """`byok.spend.json` -> `byok.spend.d` (named after the database, so never a reference)."""
    return path.with_suffix(".d")


class DayRows:
    """A window's rows summed per day and group (usage: key and model; cost: key and item), in the
    stored column order. Cents of rows that could not be priced (None) are left out of the sum;
    a group with no priced row has None."""

    def __init__(self, kind: str, days: Iterable[str]) -> None:
        self.kind = kind
        self.by_day: dict[str, dict[tuple[Any, ...], list[Any]]] = {d: {} for d in days}

    def add(self, day: str, row: Mapping[str, Any]) -> bool:
        """Add one row (the providers' field names); False when `day` is outside the window."""
        groups = self.by_day.get(day)
        if groups is None:
            return False
        cols = COLUMNS[self.kind]
        width = len(cols) - 1  # the last column is cents
        second = (row.get("model") or "") if self.kind == "usage" else row.get("item")
        group = (row.get("key"), second)
        acc = groups.get(group)
        if acc is None:
            acc = groups[group] = [*group, *([0] * (width - len(group))), None]
        for i in range(len(group), width):
            acc[i] += int(row.get(cols[i]) or 0)
        cents = row.get("cents")
        if cents is not None:
            acc[width] = (acc[width] or 0.0) + float(cents)
        return True

    def rows(self) -> dict[str, list[list[Any]]]:
        return {day: list(groups.values()) for day, groups in self.by_day.items()}


def _migrate_v1(data: dict[str, Any]) -> None:
    """Schema 1 -> 2: a day's inline hourly rows become its rows summed per key and model, held
    in `pending` until the first write moves them to a segment."""
    pending: dict[str, Any] = {}
    for key, doc in data.get("days", {}).items():
        summed = DayRows(doc.get("kind", "usage"), [doc.get("day", "")])
        for row in doc.pop("rows", None) or ():
            summed.add(doc.get("day", ""), row)
        pending[key] = {"rows": summed.rows()[doc.get("day", "")]}
        doc["seg"] = None
    if pending:
        data["pending"] = pending


def open_spend_file(path: Path, *, durable: bool = True, create: bool = True) -> AtomicJSONStorage:
    return AtomicJSONStorage(
        path, schema=SCHEMA, migrations={1: _migrate_v1}, durable=durable, create=create,
        check=check_shape,
    )  # fmt: skip


class Segments:
    """The segment files of one spend file: written whole, read by name, cached (they never
    change), removed when no day points at them."""

    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.dir, self.durable = directory, durable
        self._cache: dict[str, dict[str, list[list[Any]]]] = {}

    def write(
        self, account_id: str, kind: str, days: Mapping[str, list[list[Any]]]
    ) -> tuple[str, dict[str, list[int]]]:
        """Write a new segment (call under the spend file's lock): its name, and where each
        day's rows lie in it ([offset, length] of their JSON), so that a reader of one day
        parses that day, not the whole window (90 days: 2.8 MB)."""
        ensure_private_dir(self.dir)
        name = f"{kind}-{uuid.uuid4().hex}{SEGMENT_SUFFIX}"
        head = {"v": 1, "account_id": account_id, "kind": kind, "columns": COLUMNS[kind]}
        # The same JSON document as ever ({..., "days": {day: rows}}), written piece by piece.
        parts = [orjson.dumps(head)[:-1], b',"days":{']
        size, at = len(parts[0]) + len(parts[1]), {}
        for i, (day, rows) in enumerate(days.items()):
            label = (b"," if i else b"") + orjson.dumps(day) + b":"
            data = orjson.dumps(rows)
            at[day] = [size + len(label), len(data)]
            parts += [label, data]
            size += len(label) + len(data)
        parts.append(b"}}")
        tmp = self.dir / f".{name}.{os.getpid()}.tmp"
        try:
            replace_file(self.dir / name, b"".join(parts), tmp, durable=self.durable)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            where = str(self.dir / name)
            raise StoreError(f"cannot write {where}: {exc.strerror}", where) from None
        return name, at

    def day(self, name: str, day: str, at: Sequence[int] | None = None) -> list[list[Any]]:
        """The rows of `day` in segment `name` (FileNotFoundError when it was removed): only
        their slice when the index says where it lies (`at`), else the whole segment."""
        days = self._cache.get(name)
        if days is None and at is not None:
            rows = self._slice(name, at)
            if rows is not None:
                return rows
        if days is None:
            path = self.dir / name
            raw = path.read_bytes()
            try:
                body = orjson.loads(raw)
                days = body["days"]
                if not isinstance(days, dict):
                    raise TypeError
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise StoreError(
                    f"{path} is not a byok spend segment; move it aside and run byok sync again",
                    str(path),
                ) from None
            if len(self._cache) > 256:  # a process that runs for months: keep the recent ones
                self._cache.clear()
            self._cache[name] = days
        return days.get(day) or []

    def _slice(self, name: str, at: Sequence[int]) -> list[list[Any]] | None:
        """The rows at [offset, length] of segment `name`; None when that is not a list there
        (a segment damaged or not of this layout: the whole file is read then)."""
        offset, length = at
        fd = os.open(self.dir / name, os.O_RDONLY | CLOEXEC)
        try:
            raw = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        try:
            rows = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return rows if isinstance(rows, list) else None

    def sweep(self, keep: Iterable[str]) -> None:
        """Remove the segments not in `keep` and temp files (call under the lock: no writer is
        mid-write, so any other file is an orphan or replaced)."""
        wanted = set(keep)
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.dir):
                orphan = entry.name.endswith(".tmp") or (
                    entry.name.endswith(SEGMENT_SUFFIX) and entry.name not in wanted
                )
                if orphan:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                    self._cache.pop(entry.name, None)


def day_rows(
    data: Mapping[str, Any], segments: Segments, key: str, doc: Mapping[str, Any]
) -> list[list[Any]]:
    """The stored rows of one day entry of the index `data`."""
    if doc.get("seg") is None:  # migrated from schema 1, not written yet
        return (data.get("pending", {}).get(key) or {}).get("rows") or []
    return segments.day(doc["seg"], doc["day"], doc.get("at"))


def read_days(
    file: AtomicJSONStorage, segments: Segments, want: Iterable[str] | None = None
) -> Iterator[tuple[Mapping[str, Any], str, Mapping[str, Any], list[list[Any]]]]:
    """(index, key, day entry, rows) of every day entry (or those keyed in `want`) of one
    consistent index: when a commit removed a segment meanwhile, the index is read again."""
    for attempt in range(3):
        data = file.snapshot()
        table = data.get("days", {})
        keys = list(table) if want is None else [k for k in want if k in table]
        try:
            out = [(data, k, table[k], day_rows(data, segments, k, table[k])) for k in keys]
        except FileNotFoundError as exc:
            if attempt == 2:  # not a commit racing this read: the file was removed by hand
                raise StoreError(
                    f"{exc.filename} is missing (a synced window's rows); run byok sync "
                    "--days N again to read those days",
                    str(exc.filename),
                ) from None
            continue
        yield from out
        return


class SpendStore:
    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.file = open_spend_file(path, durable=durable)
        self.segments = Segments(segment_dir(self.file.path), durable=durable)
        if self.file.snapshot().get("pending"):  # a schema 1 file: move its rows now
            with self._writing():
                pass

    def close(self) -> None:
        self.file.close()

    @contextlib.contextmanager
    def _writing(self, *, create: bool = True) -> Iterator[dict[str, Any]]:
        """A write transaction over the index; rows left `pending` by the migration are moved to
        a segment first, and unreferenced segments are swept."""
        with self.file.transaction(create=create):
            data = self.file.read() or {}
            pending = data.pop("pending", None)
            if pending:
                self._settle(data, pending)
            yield data
            days = data.get("days", {}).values()
            self.segments.sweep(d["seg"] for d in days if d.get("seg"))
            self.file.write(data)

    def _settle(self, data: dict[str, Any], pending: Mapping[str, Any]) -> None:
        groups: dict[tuple[str, str], dict[str, str]] = {}
        for key, doc in data.get("days", {}).items():
            if doc.get("seg") is None:
                groups.setdefault((doc["account_id"], doc["kind"]), {})[doc["day"]] = key
        for (account_id, kind), keys in groups.items():
            rows = {day: (pending.get(k) or {}).get("rows") or [] for day, k in keys.items()}
            name, at = self.segments.write(account_id, kind, rows)
            for day, key in keys.items():
                data["days"][key].update(seg=name, at=at[day])

    def table(self, name: str) -> Mapping[str, Doc]:
        return self.file.snapshot().get(name, {})

    def put(self, table: str, key: str, doc: Doc) -> None:
        with self._writing() as data:
            data.setdefault(table, {})[key] = doc

    def drop(self, table: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not any(k in self.table(table) for k in keys):
            return
        with self._writing(create=False) as data:
            rows = data.get(table, {})
            for key in keys:
                rows.pop(key, None)

    def remove_account(self, account_id: str) -> None:
        """The account and everything synced from it, in one commit."""
        with self._writing(create=False) as data:
            data.get("accounts", {}).pop(account_id, None)
            data.get("balances", {}).pop(account_id, None)
            data.get("syncs", {}).pop(account_id, None)
            for table in ("links", "days", "marks"):
                rows = data.get(table, {})
                for key in [k for k, d in rows.items() if _of(k, d, account_id)]:
                    del rows[key]

    def commit_window(
        self,
        tenant_id: str,
        account_id: str,
        kind: str,
        days: Mapping[str, list[list[Any]]],
        synced_at: str,
        end: str,
    ) -> None:
        """Replace the days of one window (each given day, empty ones too; rows as DayRows
        gives them) and move the watermark to `end`: one atomic commit."""
        with self._writing() as data:
            name, at = self.segments.write(account_id, kind, days)
            table = data.setdefault("days", {})
            for day in days:
                table[day_key(account_id, kind, day)] = {
                    "tenant_id": tenant_id,
                    "account_id": account_id,
                    "kind": kind,
                    "day": day,
                    "synced_at": synced_at,
                    "seg": name,
                    "at": at[day],
                }
            data.setdefault("marks", {})[f"{account_id}|{kind}"] = {"end": end}

    def mark(self, account_id: str, kind: str) -> str | None:
        doc = self.table("marks").get(f"{account_id}|{kind}")
        return doc.get("end") if doc else None

    def days(self, tenant_id: str, kind: str | None = None) -> list[Doc]:
        """The synced days of the tenant, each with its rows as mappings of COLUMNS."""
        want = [
            k
            for k, d in self.table("days").items()
            if d["tenant_id"] == tenant_id and (kind is None or d["kind"] == kind)
        ]
        out = []
        for _, _, doc, rows in read_days(self.file, self.segments, want):
            cols = COLUMNS[doc["kind"]]
            out.append({**doc, "rows": [dict(zip(cols, r, strict=True)) for r in rows]})
        return out

    def links_to(self, tenant_id: str) -> dict[str, Doc]:
        return {k: d for k, d in self.table("links").items() if d["tenant_id"] == tenant_id}

    def link_many(self, links: Mapping[str, Doc]) -> None:
        if not links:
            return
        with self._writing() as data:
            data.setdefault("links", {}).update(links)


def _of(key: str, doc: Mapping[str, Any], account_id: str) -> bool:
    return doc.get("account_id") == account_id or key.startswith(f"{account_id}|")
