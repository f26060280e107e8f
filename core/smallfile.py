"""Reading a small file that holds a secret (a `file:` credential, the master key, a token).

Such a path comes from configuration that someone else may have written, so the read must end
and stay small whatever the path names: it is opened non-blocking (a FIFO without a writer would
block `open` for ever), must be a regular file (`/dev/zero` never ends, a tty waits for input),
is read up to a cap, and runs in a daemon thread given `TIMEOUT_S` (a regular file on a hung
network or FUSE file system blocks `read` with no way to interrupt it; the daemon thread is left
behind rather than the caller, and does not keep the process from exiting).
"""

from __future__ import annotations

import os
import stat
import threading
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


def read_small(path: str | Path, limit: int, *, private: bool = False) -> bytes:
    """At most `limit` bytes of the regular file at `path`, or SmallFileError.

    FileNotFoundError passes through (a missing file often means something else to the caller).
    `private`: refuse a file that group or others may read (mode & 0o077).
    """
    outcome: list[bytes | BaseException] = []
    reader = threading.Thread(
        target=_read_into, args=(path, limit, private, outcome), daemon=True, name="read-small"
    )
    reader.start()
    reader.join(TIMEOUT_S)
    if not outcome:
        raise SmallFileError(f"the file system did not answer within {TIMEOUT_S:g} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _read_into(
    path: str | Path, limit: int, private: bool, out: list[bytes | BaseException]
) -> None:
    try:
        out.append(_read(path, limit, private))
    except BaseException as exc:  # handed to the caller's thread
        out.append(exc)


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
