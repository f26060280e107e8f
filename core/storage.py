"""A TinyDB storage that survives crashes and shares one file between processes.

TinyDB's own JSONStorage rewrites the file in place and has no locking: a process killed mid-write
leaves a torn file, and two writers lose each other's updates. Here every commit writes a new file,
fsyncs it, renames it over the old one and fsyncs the directory, so a reader or a crash sees either
the old or the new document, never half of one. Writers serialise on an OS lock (`flock` on a side
file), and re-read the file under that lock, so each sees what the others committed.

Readers take no lock: the rename is atomic. A parse is cached until the file's identity changes;
the cache keeps the parsed file open, so its inode cannot be reused by a later file and mistaken
for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from core.errors import StoreError

META_TABLE = "_meta"
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
Migration = Callable[[dict[str, Any]], None]


class StrIdTable(Table):
    """A table whose document ids are our own string ids (uuid hex), not TinyDB's counters."""

    document_id_class = str  # type: ignore[assignment]

    def _get_next_id(self) -> str:  # pragma: no cover - every insert names its id
        raise TypeError("insert Document(value, doc_id=...) with an explicit id")


class ByokTinyDB(TinyDB):
    table_class = StrIdTable


@dataclass
class _Snapshot:
    fd: int
    ident: tuple[int, int, int, int]
    data: dict[str, Any]
    raw: bytes


def _ident(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is out (a write may take only part of a large buffer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: Path) -> None:
    """Make a created, renamed or removed directory entry durable."""
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def open_lock(path: Path, where: str) -> int:
    """Open (creating it 0600) the side file that writers `flock`; `where` names the store."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {path}: {exc.strerror}", where) from None


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` (and parents) if missing; the leaf we create is 0700."""
    if directory.is_dir():
        return
    try:
        directory.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
    except OSError as exc:
        raise StoreError(
            f"cannot create directory {directory}: {exc.strerror}", str(directory)
        ) from None


class AtomicJSONStorage(Storage):
    """One JSON document in one file. See the module docstring for the guarantees.

    Use `read()` for queries and `transaction()` for every change: inside a transaction TinyDB
    reads and writes a private copy, committed once when the block ends without an exception.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        schema: int = 1,
        migrations: Mapping[int, Migration] | None = None,
        durable: bool = True,
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        self.schema = schema
        self.migrations = dict(migrations or {})
        self.durable = durable
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.RLock()
        self._lock_fd: int | None = None
        self._snap: _Snapshot | None = None
        self._txn: dict[str, Any] | None = None
        self._dirty = False
        self.db = ByokTinyDB(storage=lambda: self)
        ensure_private_dir(self.path.parent)

    # -- TinyDB's Storage interface -------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        if self._txn is not None:
            return self._txn
        return self.snapshot()

    def write(self, data: dict[str, Any]) -> None:
        if self._txn is None:
            raise RuntimeError("AtomicJSONStorage: writes must happen inside transaction()")
        self._txn = data
        self._dirty = True

    def close(self) -> None:
        with self._thread_lock:
            if self._snap is not None:
                os.close(self._snap.fd)
                self._snap = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # -- reading --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The committed document, shared and cached: callers must not mutate it."""
        with self._thread_lock:
            snap = self._load()
            return snap.data if snap is not None else self._empty()

    def generation(self) -> tuple[int, int, int, int] | None:
        """An identity of the committed file, for callers that cache derived views of it."""
        with self._thread_lock:
            snap = self._load()
            return snap.ident if snap is not None else None

    def _load(self) -> _Snapshot | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}", str(self.path)) from None
        if self._snap is not None and self._snap.ident == _ident(st):
            return self._snap
        try:
            fd = os.open(self.path, os.O_RDONLY | CLOEXEC)
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}", str(self.path)) from None
        try:
            ident = _ident(os.fstat(fd))
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            raw = b"".join(chunks)
            data = self._parse(raw)
        except BaseException:
            os.close(fd)
            raise
        if self._snap is not None:
            os.close(self._snap.fd)
        self._snap = _Snapshot(fd=fd, ident=ident, data=data, raw=raw)
        return self._snap

    def _parse(self, raw: bytes) -> dict[str, Any]:
        if not raw.strip():
            return self._empty()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreError(
                f"{self.path} is not valid JSON ({exc}); it was left untouched. "
                "Restore it from a backup or move it aside.",
                str(self.path),
            ) from None
        if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
            raise StoreError(
                f"{self.path} is not a byok database (expected an object of tables); "
                "it was left untouched.",
                str(self.path),
            )
        return self._upgrade(data)

    def _empty(self) -> dict[str, Any]:
        return {META_TABLE: {"1": {"schema": self.schema, "app": "byok-console"}}}

    def _upgrade(self, data: dict[str, Any]) -> dict[str, Any]:
        meta = data.get(META_TABLE, {}).get("1", {})
        version = meta.get("schema", 0 if data else self.schema)
        if not isinstance(version, int) or version > self.schema:
            raise StoreError(
                f"{self.path} has schema {version!r}, newer than this byok understands "
                f"({self.schema}); upgrade byok-console. The file was left untouched.",
                str(self.path),
            )
        while version < self.schema:
            step = self.migrations.get(version)
            if step is None:
                raise StoreError(
                    f"{self.path} has schema {version}, and no migration to "
                    f"{version + 1} exists; the file was left untouched.",
                    str(self.path),
                )
            step(data)
            version += 1
        data.setdefault(META_TABLE, {})["1"] = {
            **meta,
            "schema": self.schema,
            "app": "byok-console",
        }
        return data

    # -- writing --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[TinyDB]:
        """Lock across processes, read the latest commit, yield TinyDB, commit once at the end.

        An exception inside the block discards every change made in it.
        """
        with self._thread_lock:
            if self._txn is not None:  # nested: part of the enclosing transaction
                yield self.db
                return
            self._acquire()
            try:
                snap = self._load()
                data = orjson.loads(snap.raw) if snap is not None and snap.raw.strip() else {}
                stored_version = data.get(META_TABLE, {}).get("1", {}).get("schema")
                self._txn = self._upgrade(data) if data else self._empty()
                # A new file, or one just migrated, is written even if the block changes nothing.
                self._dirty = snap is None or stored_version != self.schema
                yield self.db
                if self._dirty:
                    self._commit(self._txn)
            finally:
                self._txn = None
                self._dirty = False
                self._release()

    def ensure_created(self) -> None:
        """Create the file now (mode 0600, schema recorded) if it does not exist yet."""
        if not self.path.exists():
            with self.transaction():
                pass

    def _acquire(self) -> None:
        if self._lock_fd is None:
            self._lock_fd = open_lock(self._lock_path, str(self.path))
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def _release(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _commit(self, data: dict[str, Any]) -> None:
        raw = orjson.dumps(data)
        directory = self.path.parent
        self._remove_stale_temps()
        tmp = directory / f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | CLOEXEC, 0o600)
            try:
                write_all(fd, raw)
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            if self.durable:
                fsync_dir(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write {self.path}: {exc.strerror}", str(self.path)) from None
        # Cache what we just wrote, holding the new file open (see the module docstring).
        fd = os.open(self.path, os.O_RDONLY | CLOEXEC)
        if self._snap is not None:
            os.close(self._snap.fd)
        self._snap = _Snapshot(fd=fd, ident=_ident(os.fstat(fd)), data=data, raw=raw)

    def _remove_stale_temps(self) -> None:
        # Under the lock no writer is mid-commit, so any temp file left is from a killed process.
        prefix = f".{self.path.name}."
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.path.parent):
                if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
