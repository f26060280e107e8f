"""A TinyDB storage that survives crashes and shares one file between processes.

TinyDB's own JSONStorage rewrites the file in place and has no locking: a process killed mid-write
leaves a torn file, and two writers lose each other's updates. Here every commit writes a new file,
fsyncs it, renames it over the old one and fsyncs the directory, so a reader or a crash sees either
the old or the new document, never half of one. Writers serialise on an OS lock (`flock` on a side
file), and re-read the file under that lock, so each sees what the others committed.

Readers take no lock: the rename is atomic. A parse is cached until the file's identity changes;
the cache keeps the parsed file open, so its inode cannot be reused by a later file and mistaken
for it.

A file that cannot be a database is never read as one, nor replaced: a path that is not a regular
file (a directory, a device, a FIFO), an empty file, and valid JSON of the wrong shape (checked by
the owner's `check`) are StoreErrors naming the file, which is left byte-identical. The path is
resolved once, so a symlinked file is written through to its target instead of being replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
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
from core.gcpause import paused_gc

META_TABLE = "_meta"
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
Migration = Callable[[dict[str, Any]], None]
# The owner's shape check of a parsed (and upgraded) document: what is wrong with it, or None.
ShapeCheck = Callable[[Mapping[str, Any]], str | None]


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


def _not_a_file(path: Path, st: os.stat_result) -> StoreError | None:
    if stat.S_ISREG(st.st_mode):
        return None
    what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device or FIFO)"
    return StoreError(
        f"{path} is {what}, not a byok database file; it was left untouched", str(path)
    )


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


def replace_file(path: Path, data: bytes, tmp: Path, *, durable: bool) -> None:
    """Write `data` to the new file `tmp` (0600), fsync it, rename it over `path` and fsync the
    directory: a reader or a crash sees the old file or the new one, never half of one."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | CLOEXEC, 0o600)
    try:
        write_all(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


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
    `create=False`: the file must exist already; nothing (not even its directory) is created.
    `check`: the owner's shape check, run on every parse.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        schema: int = 1,
        migrations: Mapping[int, Migration] | None = None,
        durable: bool = True,
        create: bool = True,
        check: ShapeCheck | None = None,
    ) -> None:
        # Resolved once: a commit renames over the target of a symlink, not over the link (which
        # would fork the data), and the lock and the side files sit beside the real file.
        self.path = Path(os.path.realpath(Path(path).expanduser()))
        self.schema = schema
        self.migrations = dict(migrations or {})
        self.durable = durable
        self.check = check
        try:
            problem = _not_a_file(self.path, os.stat(self.path))
        except FileNotFoundError:
            if not create:
                raise StoreError(
                    f"{self.path} does not exist (nothing was created): "
                    "create the database with `byok add`, or check the path",
                    str(self.path),
                ) from None
            problem = None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}", str(self.path)) from None
        if problem is not None:
            raise problem
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.RLock()
        self._lock_fd: int | None = None
        self._snap: _Snapshot | None = None
        self._txn: dict[str, Any] | None = None
        self._dirty = False
        self.db = ByokTinyDB(storage=lambda: self)
        if create:
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
        problem = _not_a_file(self.path, st)
        if problem is not None:
            raise problem
        try:
            # O_NONBLOCK: should a FIFO replace the file after the stat, opening it cannot hang
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | CLOEXEC)
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}", str(self.path)) from None
        try:
            st = os.fstat(fd)
            problem = _not_a_file(self.path, st)
            if problem is not None:
                raise problem
            ident = _ident(st)
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
        # Only a missing file is a new database: an empty one is damage (byok never writes one).
        if not raw.strip():
            raise self._damaged(f"is empty ({len(raw)} bytes)")
        try:
            with paused_gc(len(raw)):
                data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise self._damaged(f"is not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not all(
            isinstance(table, dict) and all(isinstance(doc, dict) for doc in table.values())
            for table in data.values()
        ):
            raise self._damaged("is not a byok file (expected an object of tables of objects)")
        data = self._upgrade(data)
        problem = self.check(data) if self.check is not None else None
        if problem is not None:
            raise self._damaged(f"is not a valid byok file: {problem}")
        return data

    def _damaged(self, what: str) -> StoreError:
        return StoreError(
            f"{self.path} {what}; it was left untouched. Restore it from a backup or move it "
            "aside.",
            str(self.path),
        )

    def _empty(self) -> dict[str, Any]:
        return {META_TABLE: {"1": {"schema": self.schema, "app": "byok-console"}}}

    def _upgrade(self, data: dict[str, Any]) -> dict[str, Any]:
        meta = data.get(META_TABLE, {}).get("1", {})
        version = meta.get("schema", 0 if data else self.schema)
        if not isinstance(version, int) or isinstance(version, bool):
            raise self._damaged(f"records schema {version!r}, which is not a version number")
        if version > self.schema:
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
    def transaction(self, *, create: bool = True) -> Iterator[TinyDB]:
        """Lock across processes, read the latest commit, yield TinyDB, commit once at the end.

        Every read-modify-write belongs inside one: what it reads here is the latest commit, and
        no other writer commits until it ends. An exception inside the block discards every
        change made in it. `create=False`: a block that changes nothing leaves a missing file
        missing (it only serialises with the other writers).
        """
        with self._thread_lock:
            if self._txn is not None:  # nested: part of the enclosing transaction
                yield self.db
                return
            self._acquire()
            try:
                snap = self._load()
                with paused_gc():  # the private copy dies at commit: not frozen
                    data = orjson.loads(snap.raw) if snap is not None else {}
                stored_version = data.get(META_TABLE, {}).get("1", {}).get("schema")
                self._txn = self._upgrade(data) if data else self._empty()
                # A new file, or one just migrated, is written even if the block changes nothing.
                self._dirty = (snap is None and create) or (
                    snap is not None and stored_version != self.schema
                )
                yield self.db
                if self._dirty:
                    self._commit(self._txn)
            finally:
                self._txn = None
                self._dirty = False
                self._release()

    def patch(
        self, table: str, change: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """A transaction that replaces a few documents of one table and copies nothing else.

        Under the lock, `change` gets the table as last committed (shared: read it, never mutate
        it) and returns the documents to store by id, each a new dict, or None for one to
        remove. They are committed once (nothing when it returns none; an exception in `change`
        commits nothing); the rest of the new snapshot is shared with the last,
        so a commit costs the file's serialisation and write, not a parse of the whole file
        into a private copy (300 ms at 50,000 integrations, and as much again in collections
        of what it made). Returns what `change` returned.
        """
        with self._thread_lock:
            if self._txn is not None:
                raise RuntimeError("AtomicJSONStorage: patch() inside transaction()")
            self._acquire()
            try:
                snap = self._load()
                base = snap.data if snap is not None else self._empty()
                current = base.get(table, {})
                changes = change(current)
                if changes:
                    new = {**current, **changes}
                    for doc_id in [k for k, doc in changes.items() if doc is None]:
                        del new[doc_id]
                    self._commit({**base, table: new})
                return changes
            finally:
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
            replace_file(self.path, raw, tmp, durable=self.durable)
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
