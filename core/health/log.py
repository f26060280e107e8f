"""The health log: every probe's outcome, appended to segment files in a directory beside the
database, so storing a batch costs the batch, not the history.

`byok.health.d/` holds segments named `AAAAAAAAAAAA-BBBBBBBBBBBB.jsonl`: the range of segment
numbers whose entries the file holds. Writers append to the newest (`N-N`); at `segment_bytes`
the next append starts `N+1`. Each line is one entry: `crc32-hex SPACE json NEWLINE` (the
HealthLogEntry fields plus tenant_id). A batch is one write and one fdatasync; a line that is torn
(its writer was killed) or fails its checksum is skipped by readers, and the next writer cuts an
unterminated tail off under the lock (`.lock`, flock), which every writer holds.

Retention (`retention` entries per integration, the oldest appended go first) is applied when
reading, so the files may hold more: compaction drops what no read can return. When the sealed
segments after the oldest file outgrow it (and `compact_bytes`), a writer rewrites all sealed
segments into one file `A-B` (written aside, fsync'd, renamed in) and then deletes the files it
covers; each compaction copies at most twice what was appended since the last, so appends stay
O(1) amortised. Readers take no lock: they list the files, prefer the widest range where a
compaction's output and its inputs both still appear, open every file they chose (restarting if
one vanished) and read. Entries stay when their integration is deleted: its history stays
readable.

The log of earlier versions, one JSON file (`byok.health.json`), is migrated on first use: its
entries become segment 0, then the file is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError as ModelError

from core.enums import HealthState
from core.errors import StoreError
from core.models import HealthLogEntry
from core.options import DEFAULTS
from core.storage import (
    CLOEXEC,
    AtomicJSONStorage,
    ensure_private_dir,
    fsync_dir,
    open_lock,
    replace_file,
    write_all,
)

TABLE = "log"  # of the old single-file format
SUFFIX = ".jsonl"
SEGMENT_BYTES = 8 << 20
COMPACT_BYTES = 32 << 20
_STATES = frozenset(h.value for h in HealthState)
_OPEN_TRIES = 20  # a reader restarts when a compaction removed a file it listed; rare


def check_shape(data: Mapping[str, Any]) -> str | None:
    """What is wrong with an old-format health log file, or None."""
    for iid, doc in data.get(TABLE, {}).items():
        entries = doc.get("entries")
        if type(doc.get("tenant_id")) is not str or type(entries) is not list:
            return f"the log of {iid[:40]!r} has no tenant_id or no list of entries"
        for entry in entries:
            if not _entry_ok(entry):
                return f"the log of {iid[:40]!r} has an entry of the wrong shape"
    return None


def _entry_ok(entry: object) -> bool:
    """The fields the reader filters and sorts on (HealthLogEntry checks the rest when read)."""
    try:
        return (
            type(entry["checked_at"]) is str  # type: ignore[index]
            and type(entry["integration_id"]) is str  # type: ignore[index]
            and entry["health_state"] in _STATES  # type: ignore[index]
            and type(entry["reason"]) is str  # type: ignore[index]
        )
    except (KeyError, TypeError):
        return False


def encode(entry: Mapping[str, Any]) -> bytes:
    # tenant_id first: a reader skips other tenants' lines by their first bytes, unparsed
    payload = orjson.dumps({"tenant_id": entry["tenant_id"], **entry})
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


def _payload(line: bytes) -> bytes | None:
    """The JSON of a complete line whose checksum holds, else None (torn or damaged)."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:]
    try:
        return payload if int(line[:8], 16) == zlib.crc32(payload) else None
    except ValueError:
        return None


def _range(name: str) -> tuple[int, int] | None:
    stem, _, ext = name.partition(".")
    first, dash, last = stem.partition("-")
    if "." + ext != SUFFIX or not dash or not (first.isdigit() and last.isdigit()):
        return None
    return int(first), int(last)


def _name(first: int, last: int) -> str:
    return f"{first:012d}-{last:012d}{SUFFIX}"


class HealthLog:
    """`path`: the old-format file (`byok.health.json`); the log is its sibling `.d` directory.
    `retention`: entries kept per integration (the checked `health_log_retention` option)."""

    def __init__(
        self,
        path: Path,
        *,
        retention: int = DEFAULTS.health_log_retention,
        durable: bool = True,
        segment_bytes: int = SEGMENT_BYTES,
        compact_bytes: int = COMPACT_BYTES,
    ) -> None:
        self.legacy = Path(os.path.realpath(Path(path).expanduser()))
        self.dir = self.legacy.with_suffix(".d")
        self.retention = retention
        self.durable = durable
        self.segment_bytes = segment_bytes
        self.compact_bytes = compact_bytes
        self._tlock = threading.Lock()
        self._lock_fd: int | None = None
        self._migrated = False

    # -- writing --------------------------------------------------------------------------------

    def append_many(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Append entries (dicts of HealthLogEntry fields plus tenant_id) in one write."""
        data = b"".join(encode(e) for e in entries)
        if not data:
            return 0
        with self._locked():
            files = self._chosen(self._listing())
            if files and os.path.getsize(self.dir / files[-1][2]) < self.segment_bytes:
                target, created = files[-1][2], False
            else:
                number = files[-1][1] + 1 if files else 1
                target, created = _name(number, number), True
                files.append((number, number, target))
            self._append(self.dir / target, data, created)
            if created and len(files) > 2:
                self._maybe_compact(files)
        return data.count(b"\n")

    def _append(self, path: Path, data: bytes, created: bool) -> None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror}", str(path)) from None
        try:
            start = _cut_torn_tail(fd)
            try:
                write_all(fd, data)
                if self.durable:
                    os.fdatasync(fd)
                    if created:
                        fsync_dir(self.dir)
            except OSError:
                with contextlib.suppress(OSError):  # nothing of a failed batch may stay
                    os.ftruncate(fd, start)
                raise
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror}", str(path)) from None
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._tlock:
            if self._lock_fd is None:
                ensure_private_dir(self.dir)
                self._lock_fd = open_lock(self.dir / ".lock", str(self.dir))
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                if not self._migrated:
                    self._migrate()
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # -- compaction -----------------------------------------------------------------------------

    def _maybe_compact(self, files: list[tuple[int, int, str]]) -> None:
        """Rewrite the sealed files (all but the newest) as one when they have grown enough."""
        sealed = files[:-1]
        sizes = [os.path.getsize(self.dir / name) for _, _, name in sealed]
        if sum(sizes[1:]) <= max(sizes[0], self.compact_bytes):
            return
        blobs = [(self.dir / name).read_bytes() for _, _, name in files]
        kept = self._live(blobs)
        first, last = sealed[0][0], sealed[-1][1]
        out = self.dir / _name(first, last)
        try:
            self._put(out, b"".join(kept))
            for _, _, name in sealed:
                if name != out.name:
                    os.unlink(self.dir / name)
            if self.durable:
                fsync_dir(self.dir)
        except OSError as exc:
            raise StoreError(f"cannot compact {self.dir}: {exc.strerror}", str(self.dir)) from None

    def _put(self, path: Path, data: bytes) -> None:
        """Under the lock: a whole new file, written aside, fsync'd and renamed in."""
        for entry in os.scandir(self.dir):  # a writer killed mid-_put left its temp file
            if entry.name.endswith(".tmp"):
                os.unlink(entry.path)
        replace_file(path, data, self.dir / f".{path.name}.tmp", durable=self.durable)

    def _live(self, blobs: list[bytes]) -> list[bytes]:
        """The lines of every blob but the last that a read can still return, in order: the
        newest `retention` of each integration, counting the last blob's (the open segment)."""
        counts: dict[bytes, int] = {}
        kept: list[bytes] = []
        for index in range(len(blobs) - 1, -1, -1):
            lines = _complete_lines(blobs[index])
            for line in reversed(lines):
                payload = _payload(line)
                if payload is None:
                    continue  # damaged: nothing can read it
                iid = _integration_of(payload)
                if iid is None:  # not ours to judge: keep it, reads report it
                    if index < len(blobs) - 1:
                        kept.append(line + b"\n")
                    continue
                seen = counts.get(iid, 0)
                counts[iid] = seen + 1
                if seen < self.retention and index < len(blobs) - 1:
                    kept.append(line + b"\n")
        kept.reverse()
        return kept

    # -- migration ------------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Under the lock: move an old-format file's entries into segment 0, then remove it.

        A crash after the segment is renamed in and before the file is removed leaves both; the
        segment's presence says the entries are in, so the next open only removes the file.
        """
        if self.legacy.exists():
            target = self.dir / _name(0, 0)
            if not target.exists():
                store = AtomicJSONStorage(self.legacy, durable=self.durable, check=check_shape)
                try:
                    table: Mapping[str, Any] = store.snapshot().get(TABLE, {})
                finally:
                    store.close()
                rows = []
                for doc in table.values():
                    rows.extend({"tenant_id": doc["tenant_id"], **e} for e in doc["entries"])
                rows.sort(key=lambda e: (e["checked_at"], e.get("seq", 0)))
                self._put(target, b"".join(encode(e) for e in rows))
            for leftover in (self.legacy, self.legacy.with_name(self.legacy.name + ".lock")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            if self.durable:
                fsync_dir(self.legacy.parent)
        self._migrated = True

    # -- reading --------------------------------------------------------------------------------

    def _listing(self) -> list[tuple[int, int, str]]:
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read {self.dir}: {exc.strerror}", str(self.dir)) from None
        return [(*r, n) for n in names if (r := _range(n)) is not None]

    @staticmethod
    def _chosen(files: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """One file per range, oldest first: a compaction's output over the inputs it replaces
        (both are listed between its rename and its deletes)."""
        out: list[tuple[int, int, str]] = []
        covered = -1
        for first, last, name in sorted(files, key=lambda f: (f[0], -f[1])):
            if last > covered:
                out.append((first, last, name))
                covered = last
        return out

    def _blobs(self) -> list[tuple[Path, bytes]]:
        """Every chosen file's bytes, all opened before any is read (one consistent set)."""
        if not self._migrated and self.legacy.exists():
            with self._locked():
                pass
        for _ in range(_OPEN_TRIES):
            fds: list[tuple[Path, int]] = []
            try:
                for _, _, name in self._chosen(self._listing()):
                    path = self.dir / name
                    fds.append((path, os.open(path, os.O_RDONLY | CLOEXEC)))
            except FileNotFoundError:  # removed by a compaction since the listing
                for _, fd in fds:
                    os.close(fd)
                continue
            except OSError as exc:
                for _, fd in fds:
                    os.close(fd)
                raise StoreError(f"cannot read {self.dir}: {exc.strerror}", str(self.dir)) from None
            out = []
            for path, fd in fds:
                with os.fdopen(fd, "rb") as fh:
                    out.append((path, fh.read()))
            return out
        raise StoreError(f"cannot read {self.dir}: it keeps changing while read", str(self.dir))

    def read(
        self, tenant_id: str, integration_id: str | None = None, limit: int = 100
    ) -> list[HealthLogEntry]:
        """Newest first, only the tenant's entries, at most `retention` of each integration."""
        # Cheap tests before parsing: orjson writes a key and its value exactly like this.
        mine = _TENANT_KEY + orjson.dumps(tenant_id) + b","
        needle = None if integration_id is None else _ID_KEY[:-1] + orjson.dumps(integration_id)
        rows: list[dict[str, Any]] = []
        for path, blob in self._blobs():
            for line in _complete_lines(blob):
                payload = _payload(line)
                if payload is None:
                    continue  # torn or damaged: skipped
                if not payload.startswith(mine):
                    if not payload.startswith(_TENANT_KEY + b'"'):
                        raise _bad_entry(path)
                    continue  # another tenant's
                if needle is not None and needle not in payload:
                    continue
                entry = orjson.loads(payload)
                if not _entry_ok(entry) or entry["tenant_id"] != tenant_id:
                    raise _bad_entry(path)
                if integration_id is None or entry["integration_id"] == integration_id:
                    rows.append(entry)
        kept = _newest_per_integration(rows, self.retention)
        # checked_at is fixed-width ISO text, so it sorts in time order; seq breaks ties.
        kept.sort(key=lambda e: (e["checked_at"], e.get("seq", 0)), reverse=True)
        try:
            return [HealthLogEntry.model_validate(e) for e in kept[:limit]]
        except ModelError as exc:
            raise StoreError(
                f"{self.dir} holds a health log entry that is not valid ({exc.error_count()} "
                "errors); it was left untouched. Move the segment that holds it aside.",
                str(self.dir),
            ) from None

    def close(self) -> None:
        with self._tlock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def _bad_entry(path: Path) -> StoreError:
    return StoreError(
        f"{path} holds a health log entry of the wrong shape (with a valid checksum); it was "
        "left untouched. Move the segment aside to read the rest.",
        str(path),
    )


def _complete_lines(blob: bytes) -> list[bytes]:
    """The newline-terminated lines of a blob (an unterminated tail is a torn append)."""
    end = blob.rfind(b"\n")
    return blob[:end].split(b"\n") if end >= 0 else []


_ID_KEY = b'"integration_id":"'
_TENANT_KEY = b'{"tenant_id":'


def _integration_of(payload: bytes) -> bytes | None:
    """The integration id of an entry's JSON, as bytes (a key for counting), or None."""
    start = payload.find(_ID_KEY)
    if start >= 0:
        start += len(_ID_KEY)
        end = payload.find(b'"', start)
        if end > 0 and b"\\" not in payload[start:end]:
            return payload[start:end]
    try:
        iid = orjson.loads(payload).get("integration_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return iid.encode() if type(iid) is str else None


def _newest_per_integration(rows: list[dict[str, Any]], retention: int) -> list[dict[str, Any]]:
    """The last `retention` rows (in append order) of each integration."""
    counts: dict[str, int] = {}
    kept = []
    for entry in reversed(rows):
        seen = counts.get(entry["integration_id"], 0)
        if seen < retention:
            counts[entry["integration_id"]] = seen + 1
            kept.append(entry)
    return kept


def _cut_torn_tail(fd: int) -> int:
    """Under the lock: truncate an unterminated last line (a writer died mid-append), so the next
    line starts clean; returns the size from which this append starts."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        chunk = os.pread(fd, min(end, 1 << 16), end - min(end, 1 << 16))
        at = chunk.rfind(b"\n")
        if at >= 0:
            end = end - len(chunk) + at + 1
            break
        end -= len(chunk)
    if end != size:
        os.ftruncate(fd, end)
    return end
