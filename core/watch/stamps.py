"""Change stamps of the files the metrics are read from: equal stamps, equal files.

A few `stat` calls: the watcher compares them each round and re-reads the rows, limits and
decisions only when one changed (or time alone changes a figure: the rolling minute, a period's
end). The watcher's own file is not among them: its lease is renewed every round.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.paths import side_file

Stamp = tuple[object, ...]


def file_stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def dir_stamp(path: Path) -> Stamp:
    """Each entry's name, size and mtime (the usage log: a segment a day, appended to)."""
    try:
        with os.scandir(path) as entries:
            found = [
                (e.name, st.st_size, st.st_mtime_ns)
                for e in entries
                if not e.name.startswith(".") and (st := e.stat())
            ]
    except FileNotFoundError:
        return ()
    return tuple(sorted(found))


def figures_stamp(db_path: Path, log_dir: Path) -> Stamp:
    """The integrations file, the usage rollups and log, the spend file."""
    usage = side_file(db_path, "usage")
    return (
        file_stamp(db_path),
        file_stamp(usage),
        dir_stamp(log_dir),
        file_stamp(side_file(db_path, "spend")),
    )
