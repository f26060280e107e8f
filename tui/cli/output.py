"""Output of the `byok` command: JSON for machines, plain aligned tables for people.

Tables are whitespace-aligned columns (no box drawing) so that `grep`, `awk` and `cut` work on
them, and they are fitted to the terminal width (80 columns when the output is not a terminal)
by shortening the widest free-text column. Colour is used only on a terminal and never when
NO_COLOR is set (https://no-color.org), so logs and pipes stay clean.

Every value is written through `visible` (core.integrations.redaction): a control character a
database holds (one written by an older version) is shown as an escape, never sent to the
terminal, in tables, fields, JSON and messages alike.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from core.integrations.redaction import scrub_value, visible

_COLOURS = {
    "healthy": "32",
    "allowed": "32",
    "enabled": "32",
    "degraded": "33",
    "warned": "33",
    "throttled": "33",
    "failing": "31",
    "blocked": "31",
    "error": "31",
    "disabled": "2",
    "unknown": "2",
}


def use_colour(stream: TextIO) -> bool:
    """Colour only for a person at a terminal who has not opted out."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def width(stream: TextIO) -> int:
    """The terminal's width, or 80 when the output is a pipe or a file."""
    try:
        if stream.isatty():
            return max(40, shutil.get_terminal_size((80, 24)).columns)
    except (AttributeError, ValueError):
        pass
    return 80


def to_jsonable(value: Any) -> Any:
    """Result models as the contract's JSON (`model_dump(mode="json")`), recursively. A model is
    known by its method, so that importing this module does not load pydantic."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):  # as pydantic writes a UTC time: ...T00:00:00Z
        return value.isoformat().replace("+00:00", "Z")
    return value


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """Strict JSON (RFC 8259): a NaN or an infinity is a bug to report (ValueError), never
    `NaN` on stdout for a JSON parser to choke on. Nothing is written then."""
    out = stream or sys.stdout
    value = scrub_value(to_jsonable(value))
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    out.write(text + "\n")


def say(text: str, stream: TextIO | None = None) -> None:
    """One line of a message (which may name stored values) on stdout, or on `stream`."""
    (stream or sys.stdout).write(visible(text) + "\n")


@dataclass(frozen=True, slots=True)
class Columns:
    """A table's headers, and its columns that may shrink or are coloured (as for `table`)."""

    headers: Sequence[str]
    flexible: Sequence[int] = ()
    coloured: Sequence[int] = ()


def results(
    items: Sequence[Any], as_json: bool, empty: str, columns: Columns, row: Callable[[Any], Any]
) -> None:
    """A command's list of results: JSON with --json, `empty` when there is none, else a table
    of one `row(item)` per item."""
    if as_json:
        print_json(items)
    elif not items:
        print(empty)
    else:
        rows = [row(item) for item in items]
        table(columns.headers, rows, flexible=columns.flexible, coloured=columns.coloured)


def paint(text: str, word: str, colour: bool) -> str:
    code = _COLOURS.get(word)
    if not colour or code is None:
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    return text[: limit - 1] + "…"


def when(value: datetime | None) -> str:
    """A compact UTC time for tables; relative for the recent past."""
    if value is None:
        return "never"
    now = datetime.now(UTC)
    seconds = (now - value).total_seconds()
    if 0 <= seconds < 60:
        return f"{int(seconds)}s ago"
    if 0 <= seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if 0 <= seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def cents(value: float | int) -> str:
    return f"${value / 100:,.2f}"


def tokens(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return str(value)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    stream: TextIO | None = None,
    flexible: Sequence[int] = (),
    coloured: Sequence[int] = (),
    shrink_first: Sequence[int] = (),
) -> None:
    """Print aligned columns fitted to the width.

    `shrink_first` columns give up their width before the `flexible` ones, which then shrink
    together (widest first). Nothing shrinks below 8 characters or its header.
    """
    out = stream or sys.stdout
    colour = use_colour(out)
    body = [[visible(str(cell)) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    budget = width(out) - 2 * (len(headers) - 1)
    excess = sum(widths) - budget
    floors = {i: max(len(headers[i]), 8) for i in (*flexible, *shrink_first)}
    for i in shrink_first:
        cut = max(0, min(excess, widths[i] - floors[i]))
        widths[i] -= cut
        excess -= cut
    while excess > 0:  # shave the widest flexible column, so long ones meet in the middle
        room = [i for i in flexible if widths[i] > floors[i]]
        if not room:
            break
        widest = max(room, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in body:
        cells = []
        for i, cell in enumerate(row):
            text = shorten(cell, widths[i])
            padded = text.ljust(widths[i])
            if i in coloured:
                padded = paint(text, cell, colour) + " " * (widths[i] - len(text))
            cells.append(padded)
        lines.append("  ".join(cells).rstrip())
    out.write("\n".join(lines) + "\n")


def fields(pairs: Sequence[tuple[str, str]], stream: TextIO | None = None) -> None:
    """A `key: value` block for one object (byok show)."""
    out = stream or sys.stdout
    colour = use_colour(out)
    pad = max(len(k) for k, _ in pairs)
    limit = width(out) - pad - 2
    for key, raw in pairs:
        value = visible(raw)
        out.write(f"{key.ljust(pad)}  {paint(shorten(value, limit), value, colour)}\n")
