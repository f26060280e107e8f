"""Reading a small file that holds a secret (a `file:` credential, the master key, a token).

Such a path comes from configuration that someone else may have written, so the read must end
and stay small whatever the path names: it is opened non-blocking (a FIFO without a writer would
block `open` for ever), must be a regular file (`/dev/zero` never ends, a tty waits for input),
is read up to a cap, and runs in a daemon thread given `TIMEOUT_S` (a regular file on a hung
network or FUSE file system blocks `read` with no way to interrupt it; the daemon thread is left
behind rather than the caller, and does not keep the process from exiting). Many reads can run
at once under one deadline (`reading_ahead`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

TIMEOUT_S = 5.0
FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class SmallFileError(Exception):
    """Why the file was not read; the message names no content, only what is wrong."""


class NotPrivate(SmallFileError):
    """The file may be read by group or others (`mode`)."""

    def __init__(self, mode: int) -> None:
        super().__init__(f"other users can read it (mode {mode:04o})")
        self.mode = mode


class _Read:
    """One read running in its daemon thread; `wait` gives its outcome by a deadline."""

    def __init__(self, path: str | Path, limit: int, private: bool) -> None:
        self.outcome: list[bytes | BaseException] = []
        self.deadline = time.monotonic() + TIMEOUT_S
        self._thread = threading.Thread(
            target=self._run, args=(path, limit, private), daemon=True, name="read-small"
        )
        self._thread.start()

    def _run(self, path: str | Path, limit: int, private: bool) -> None:
        try:
            self.outcome.append(_read(path, limit, private))
        except BaseException as exc:  # handed to the waiting thread
            self.outcome.append(exc)

    def wait(self) -> bytes:
        self._thread.join(max(self.deadline - time.monotonic(), 0.0))
        if not self.outcome:
            raise SmallFileError(f"the file system did not answer within {TIMEOUT_S:g} s")
        result = self.outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result


_ahead = threading.local()  # this thread's reads started by `reading_ahead`


def read_small(path: str | Path, limit: int, *, private: bool = False) -> bytes:
    """At most `limit` bytes of the regular file at `path`, or SmallFileError.

    FileNotFoundError passes through (a missing file often means something else to the caller).
    `private`: refuse a file that group or others may read (mode & 0o077).
    """
    started: dict[tuple[str, int, bool], _Read] = getattr(_ahead, "reads", {})
    pending = started.pop((os.fspath(path), limit, private), None)
    return (pending or _Read(path, limit, private)).wait()


@contextlib.contextmanager
def reading_ahead(paths: Iterable[str], limit: int) -> Iterator[None]:
    """Start the reads of `paths` at once, for the `read_small(path, limit)` calls of this block
    (this thread) to collect: 500 credential files on a hung mount then take one TIMEOUT_S in
    all, not one each."""
    _ahead.reads = {(p, limit, False): _Read(p, limit, False) for p in dict.fromkeys(paths)}
    try:
        yield
    finally:
        _ahead.reads = {}


def _read(path: str | Path, limit: int, private: bool) -> bytes:
    try:
        fd = os.open(path, FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SmallFileError(exc.strerror or type(exc).__name__) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SmallFileError("it is not a regular file (a FIFO, a device or a directory)")
        mode = stat.S_IMODE(info.st_mode)
        if private and mode & 0o077:
            raise NotPrivate(mode)
        if info.st_size > limit:
            raise SmallFileError(f"it is larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew since fstat
            raise SmallFileError(f"it is larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise SmallFileError(exc.strerror or type(exc).__name__) from None
    finally:
        os.close(fd)
