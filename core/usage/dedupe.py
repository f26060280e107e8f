"""The call_id index of the usage log: which (tenant, integration, call_id) were recorded on which
day, kept on disk so that a writer checks a batch for repeats without the log in memory.

`byok.usage.d/.dedupe.sqlite` (SQLite, WAL journal), two tables:

* `seen(h INTEGER PRIMARY KEY, c INTEGER, day INTEGER)`: one row per call key. `h` and `c` are the
  first 8 and the next 4 bytes of the key's 96-bit BLAKE2b digest (a false repeat needs both to
  collide: ~2^-96 a pair); `day` is the YYYYMMDD of the segment the call was recorded in. A
  lookup is one B-tree probe per key; the page cache is SQLite's (2 MB), so a process's memory
  does not grow with the number of calls; the file holds ~20 bytes a call of the retained days.
* `pos(id, segment, offset, expired)`: the log position up to which every frame is indexed, and
  the day before which calls were last dropped (so the scan that drops them runs once a day).

The index is derived data: the log is the truth. Writers use it under the usage log's lock only,
and first bring it up to the log's end (normally nothing to do: each writer indexes its own frame
right after the frame is fsync'd). Its commits are not fsync'd (synchronous=NORMAL): a crash can
lose the last ones, never tear the file, and the catch-up re-reads those frames from the log. A
file that is not a readable index is removed and rebuilt from the retained segments.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.errors import StoreError
from core.storage import CLOEXEC

Pos = tuple[str, int]
Digest = tuple[int, int]  # (h, c)
CHUNK = 900  # host parameters per lookup statement (SQLite allows 999 on the oldest builds)
INDEX_NAME = ".dedupe.sqlite"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS seen (h INTEGER PRIMARY KEY, c INTEGER NOT NULL,"
    " day INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pos (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " segment TEXT NOT NULL, offset INTEGER NOT NULL, expired INTEGER NOT NULL)",
)


def digest(tenant: str, integration_id: str, call_id: str) -> Digest:
    """The stored form of a call key."""
    raw = f"{tenant}\x00{integration_id}\x00{call_id}".encode("utf-8", "surrogatepass")
    d = hashlib.blake2b(raw, digest_size=12).digest()
    return int.from_bytes(d[:8], "little", signed=True), int.from_bytes(d[8:], "little")


class DedupeIndex:
    """One process's connection to the index. Not thread-safe: the store calls it under its lock."""

    def __init__(self, log_dir: Path) -> None:
        self.path = log_dir / INDEX_NAME
        self._con: sqlite3.Connection | None = None
        self.pos: Pos = ("", 0)
        self.expired = 0

    # -- opening --------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect (creating the file 0600 when missing); a damaged file is replaced by an empty
        index, which the store then rebuilds from the log."""
        if self._con is not None:
            return
        try:
            self._connect()
        except sqlite3.DatabaseError:
            self.close()
            self.remove()
            self._connect()

    def _connect(self) -> None:
        try:
            # SQLite creates the file 0644 under a usual umask, and its -wal/-shm files with the
            # file's mode: create it 0600 first.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | CLOEXEC, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot open {self.path}: {exc.strerror}", str(self.path)) from None
        con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._con = con
        con.execute("PRAGMA busy_timeout = 10000")
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        # a large catch-up leaves a large -wal file behind; keep at most 4 MB of it
        con.execute("PRAGMA journal_size_limit = 4194304")
        for statement in _SCHEMA:
            con.execute(statement)
        row = con.execute("SELECT segment, offset, expired FROM pos WHERE id = 1").fetchone()
        self.pos, self.expired = ((str(row[0]), int(row[1])), int(row[2])) if row else (("", 0), 0)

    def remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        self.pos, self.expired = ("", 0), 0

    def reset(self) -> None:
        """Forget everything (the log no longer matches the index): rebuilt from the log."""
        self.close()
        self.remove()
        self.open()

    def close(self) -> None:
        if self._con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._con.close()
            self._con = None

    # -- use ------------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._con is None:
            self.open()
        assert self._con is not None
        return self._con

    def seen(self, digests: Sequence[Digest], cutoff_day: int) -> set[Digest]:
        """The digests recorded on `cutoff_day` or later."""
        con = self._db()
        found: set[Digest] = set()
        wanted = set(digests)
        hs = list({h for h, _ in digests})
        for first in range(0, len(hs), CHUNK):
            chunk = hs[first : first + CHUNK]
            sql = f"SELECT h, c, day FROM seen WHERE h IN ({','.join('?' * len(chunk))})"
            for h, c, day in self._run(con, sql, chunk):
                if day >= cutoff_day and (h, c) in wanted:
                    found.add((h, c))
        return found

    def add(self, rows: Iterable[tuple[int, int, int]], pos: Pos) -> None:
        """Store (h, c, day) rows and the log position they reach, in one transaction."""
        # In key order: B-tree inserts then touch neighbouring pages (~30% less CPU than in
        # arrival order). A key recorded again after its day expired takes its new day.
        ordered = sorted(rows)
        self._write("INSERT OR REPLACE INTO seen VALUES (?, ?, ?)", ordered, pos, self.expired)
        self.pos = pos

    def expire(self, cutoff_day: int) -> None:
        """Drop the calls recorded before `cutoff_day`: they no longer count as repeats."""
        if cutoff_day > self.expired:
            self._write("DELETE FROM seen WHERE day < ?", [(cutoff_day,)], self.pos, cutoff_day)
            self.expired = cutoff_day

    def _write(
        self, sql: str, args: Iterable[Sequence[object]], pos: Pos, expired: int
    ) -> None:
        con = self._db()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.executemany(sql, args)
            con.execute("INSERT OR REPLACE INTO pos VALUES (1, ?, ?, ?)", (*pos, expired))
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise self._error(exc) from None

    def count(self) -> int:
        return int(self._run(self._db(), "SELECT count(*) FROM seen", ())[0][0])

    def _run(self, con: sqlite3.Connection, sql: str, args: Sequence[object]) -> list[tuple]:
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> StoreError:
        # Next use reconnects. A damaged file (SQLite's plain DatabaseError: "malformed", "not a
        # database") goes now and is rebuilt from the log; a full disk or a lock does not.
        self.close()
        if type(exc) is sqlite3.DatabaseError:
            self.remove()
        return StoreError(f"the call_id index {self.path} failed: {exc}", str(self.path))
