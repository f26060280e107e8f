"""Usage storage: an append-only event log for the recent past, monthly and daily rollups for the
rest.

Next to the database (`byok.json`), see docs/architecture.md ("The usage store"):

* `byok.usage.d/YYYY-MM-DD.jsonl`, the event log, one segment per UTC day of *recording*. Each
  line is one frame: `crc32-hex SPACE json NEWLINE`, holding every event of one recorded batch
  (plus the alerts the batch raised). A frame is appended and fdatasync'd before the batch is
  acknowledged, so a batch is stored whole or not at all: a process killed mid-write leaves an
  unterminated line, which readers ignore and the next writer cuts off under the lock. Segments
  older than the retention (7 days by default) are deleted.
* `byok.usage.json`, an AtomicJSONStorage (whole-file atomic replace under flock) holding the
  rollups (per tenant, integration and UTC month: tokens, exact cost in nano-cents as a decimal
  string, requests, unpriced calls), the alerts, the watermark (the log position up to which
  the rollups include the log) and the request times of the last minute among what they include.
  Beside the monthly rollups (`rollups`, kept for ever), daily rollups (`days`: one document per
  tenant and integration, the same counters by UTC day, the last DAY_ROLLUP_DAYS days only) serve
  the integrations whose `budget_period` is a day or a week (a week is the sum of its 7 days).
  Writing it is a fold, done every few seconds or tens of thousands of events, never per request.
* `byok.usage.d/.dedupe.sqlite`, the call_id index (core.usage.dedupe): which calls were recorded
  on which day, on disk. Only writers use it.

A period's totals are the rollups plus the frames after the watermark: a fresh process loads the
rollups and reads the log from the watermark on (its cost is the tail, not the month); then it
tails the log, so a read costs two `stat`s unless another process wrote. Writers serialise on
`flock` of `byok.usage.d/.lock` and catch up with the log and the index under it, so dedupe and
alert checks see every other process's writes. Acknowledged means fsync'd into the log; the
rollups and the index are summaries of it, rebuilt from the log after a crash.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import os
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from core.errors import StoreError
from core.gcpause import paused_gc
from core.options import DEFAULTS
from core.storage import (
    CLOEXEC,
    AtomicJSONStorage,
    ensure_private_dir,
    fsync_dir,
    open_lock,
    write_all,
)
from core.timeutil import (
    US_PER_S,
    Clock,
    budget_bounds,
    day_key,
    period_days,
    to_us,
)
from core.usage.pricing import NC_PER_CENT, nc_round_cents

if TYPE_CHECKING:  # imported by the first commit: readers never load SQLite
    from core.usage.dedupe import DedupeIndex, Digest

WINDOW_US = 60 * US_PER_S
MAX_JSON_INT = 2**63 - 1
SEGMENT_SUFFIX = ".jsonl"
FORMAT = 1

Totals = list[int]  # [input_tokens, output_tokens, cost_nc, requests, unpriced]
Key = tuple[str, str, str]  # (tenant, integration id, month "YYYY-MM" or day "YYYY-MM-DD")
Pos = tuple[str, int]  # (segment name, byte offset)
WKey = tuple[str, str]  # (tenant, integration id): a rolling window's key
Recent = list[tuple[WKey, int]]  # the event times (µs) of a frame that fall in a window
READ_CHUNK = 1 << 22  # the log is read 4 MB at a time: memory does not grow with the tail
INDEX_BATCH = 50_000  # call keys per index transaction when the index catches up with the log
# Daily rollups kept: a week (Monday..Sunday) holds at most today and the 6 days before; one more
# day of slack for clocks that differ between processes.
DAY_ROLLUP_DAYS = 8
DEFAULT_THRESHOLDS = (80, 100)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(value)


MAX_US = 253402300800 * 1_000_000  # 10000-01-01: times are recorded within 1970..9999
MAX_COUNT_DIGITS = 40  # a counter stored as text (beyond 64 bits): far above anything real


def _is_count(value: object) -> bool:
    """A stored counter: an int >= 0, or (beyond 64 bits, see _json_int) its decimal text."""
    if type(value) is int:
        return value >= 0
    return (
        type(value) is str and 0 < len(value) <= MAX_COUNT_DIGITS
        and value.isascii() and value.isdigit()
    )  # fmt: skip


def _is_period(value: object) -> bool:
    """A month "YYYY-MM" (a rollup's and an alert's period)."""
    return (
        type(value) is str and len(value) == 7 and value[4] == "-"
        and value[:4].isdigit() and value[5:].isdigit()
        and int(value[:4]) >= 1970 and 1 <= int(value[5:]) <= 12
    )  # fmt: skip


def _is_day(value: object) -> bool:
    """A day "YYYY-MM-DD" (a daily rollup's key): checked by shape, as it runs for every day of
    every integration at each parse; an alert's day is checked as a date too (_is_alert_period)."""
    return (
        type(value) is str and len(value) == 10 and value[7] == "-" and _is_period(value[:7])
        and value[8:].isdigit() and 1 <= int(value[8:]) <= 31
    )  # fmt: skip


def _is_week(value: object) -> bool:
    """An ISO week "YYYY-Www" (a weekly alert's period)."""
    if not (
        type(value) is str and len(value) == 8 and value[4:6] == "-W"
        and value[:4].isdigit() and value[6:].isdigit() and int(value[:4]) >= 1970
    ):  # fmt: skip
        return False
    try:
        datetime.fromisocalendar(int(value[:4]), int(value[6:]), 1)
    except ValueError:
        return False
    return True


def _is_alert_period(value: object) -> bool:
    """A month, an ISO week or a day: a date that exists (Alert's bounds are read from it)."""
    if _is_day(value):
        try:
            return datetime.fromisoformat(value).date().isoformat() == value  # type: ignore[arg-type]
        except ValueError:
            return False
    return _is_period(value) or _is_week(value)


_COUNTERS = ("input_tokens", "output_tokens", "cost_nc", "requests", "unpriced")
_ALERT_TEXT = ("id", "key", "tenant_id", "integration_id")


def _alert_ok(alert: object) -> bool:
    """An alert as stored in a frame or the rollups file: what get_alerts reads."""
    try:
        return (
            all(type(alert[k]) is str for k in _ALERT_TEXT)  # type: ignore[index]
            and type(alert.get("integration_name") or "") is str  # type: ignore[union-attr]
            and _is_alert_period(alert["period"])  # type: ignore[index]
            and alert["kind"] in ("budget", "tokens")  # type: ignore[index]
            and type(alert["threshold"]) is int  # type: ignore[index]
            and type(alert["limit"]) is int  # type: ignore[index]
            and _is_count(alert["used"])  # type: ignore[index]
            and type(alert["percent"]) in (int, float)  # type: ignore[index]
            and type(alert["created_at_us"]) is int  # type: ignore[index]
            and 0 <= alert["created_at_us"] < MAX_US  # type: ignore[index]
        )
    except (KeyError, TypeError, AttributeError):
        return False


def check_rollups(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a rollups file (`byok.usage.json`), or None."""
    for doc_id, doc in data.get("rollups", {}).items():
        if not (
            type(doc.get("tenant_id")) is str
            and type(doc.get("integration_id")) is str
            and _is_period(doc.get("period"))
            and all(_is_count(doc.get(k)) for k in _COUNTERS)
        ):
            return f"the rollup {doc_id[:60]!r} is not of the expected shape"
    for doc_id, doc in data.get("days", {}).items():
        days = doc.get("days")
        if not (
            type(doc.get("tenant_id")) is str
            and type(doc.get("integration_id")) is str
            and type(days) is dict
            and all(
                _is_day(day) and type(row) is list and len(row) == 5 and all(map(_is_count, row))
                for day, row in days.items()
            )
        ):
            return f"the daily rollup {doc_id[:60]!r} is not of the expected shape"
    state = data.get("state", {}).get("1", {})
    offset = state.get("offset", 0)
    if type(state.get("segment", "")) is not str or type(offset) is not int or offset < 0:
        return "the log position (state) is not a segment name and an offset"
    for alert_id, alert in data.get("alerts", {}).items():
        if not _alert_ok(alert):
            return f"the alert {alert_id[:40]!r} is not of the expected shape"
    rows = data.get("recent", {}).get("1", {}).get("rows", [])
    if type(rows) is not list or not all(_recent_ok(r) for r in rows):
        return "the last minute's requests (recent) are not of the expected shape"
    return None


def _recent_ok(row: object) -> bool:
    return (
        type(row) is list and len(row) == 3
        and type(row[0]) is str and type(row[1]) is str and type(row[2]) is list
        and all(type(t) is int and 0 <= t < MAX_US for t in row[2])
    )  # fmt: skip


def _fold_frame(
    body: Mapping[str, Any], day: _DayCache, recent_after: int
) -> tuple[dict[Key, Totals], Recent, int] | str:
    """A frame whose checksum is right, summed: its totals by (tenant, integration, day) and by
    (tenant, integration, month), the times of its events after `recent_after`, and its event
    count; or what is wrong with it."""
    tenant, ids, models, rows = body.get("t"), body.get("i"), body.get("m"), body.get("e")
    if not (
        type(tenant) is str
        and type(ids) is list and all(type(x) is str for x in ids)
        and type(models) is list and all(type(x) is str for x in models)
        and type(rows) is list
    ):  # fmt: skip
        return "no tenant, integration ids, models or events"
    n_ids, n_models = len(ids), len(models)
    sums: dict[tuple[int, str], Totals] = {}
    recent: Recent = []
    for row in rows:
        try:
            ii, mi, at_us, inp, outp, cost, cid = row
        except (TypeError, ValueError):
            return "an event that is not a list of 7 fields"
        # the common case inline (ints): this runs for every event read
        if not (
            type(ii) is int and 0 <= ii < n_ids
            and type(mi) is int and 0 <= mi < n_models
            and type(at_us) is int and 0 <= at_us < MAX_US
            and ((type(inp) is int and inp >= 0) or _is_count(inp))
            and ((type(outp) is int and outp >= 0) or _is_count(outp))
            and (cost is None or (type(cost) is int and cost >= 0) or _is_count(cost))
            and (cid is None or type(cid) is str)
        ):  # fmt: skip
            return "an event with an index out of range or a field of the wrong type"
        key = (ii, day(at_us))
        total = sums.get(key)
        if total is None:
            total = sums[key] = [0, 0, 0, 0, 0]
        total[0] += inp if type(inp) is int else int(inp)
        total[1] += outp if type(outp) is int else int(outp)
        total[3] += 1
        if cost is None:
            total[4] += 1
        else:
            total[2] += cost if type(cost) is int else int(cost)
        if at_us > recent_after:
            recent.append(((tenant, ids[ii]), at_us))
    alerts = body.get("a", [])
    if type(alerts) is not list or not all(_alert_ok(a) for a in alerts):
        return "an alert of the wrong shape"
    return _with_months(tenant, ids, sums), recent, len(rows)


def _with_months(
    tenant: str, ids: Sequence[str], sums: Mapping[tuple[int, str], Totals]
) -> dict[Key, Totals]:
    """Totals by (integration index, day) as rollup keys: each day's, and each month's sum."""
    agg: dict[Key, Totals] = {}
    for (ii, day), total in sums.items():
        iid = ids[ii]
        agg[(tenant, iid, day)] = total
        _add(agg, (tenant, iid, day[:7]), total)
    return agg


def day_number(segment: str) -> int:
    """A segment's day as the dedupe index stores it: `2026-03-01` -> 20260301."""
    return int(segment.replace("-", ""))


def _doc_totals(doc: Mapping[str, Any]) -> Totals:
    """A rollup document's counters (stored as ints, or as text beyond 64 bits)."""
    return [
        _int(doc["input_tokens"]),
        _int(doc["output_tokens"]),
        int(doc["cost_nc"]),
        _int(doc["requests"]),
        _int(doc["unpriced"]),
    ]


def _add(into: dict[Key, Totals], key: Key, row: Totals) -> None:
    have = into.get(key)
    if have is None:
        into[key] = list(row)
    else:
        for i in range(5):
            have[i] += row[i]


def _json_int(value: int) -> int | str:
    # orjson stores 64-bit integers; anything larger (absurd, but possible input) goes as text.
    return value if -MAX_JSON_INT <= value <= MAX_JSON_INT else str(value)


@dataclass(slots=True)
class Event:
    """One validated, priced call, ready to store. `cost_nc` None means unpriced (cost 0)."""

    integration_id: str
    model: str
    at_us: int
    input_tokens: int
    output_tokens: int
    cost_nc: int | None
    call_id: str | None


@dataclass(slots=True)
class Limits:
    """What the alert check needs to know of an integration at recording time."""

    name: str
    budget_limit_cents: int
    token_limit_month: int
    budget_period: str = "month"
    alert_thresholds: Sequence[int] = DEFAULT_THRESHOLDS


@dataclass(slots=True)
class _Pending:
    """A frame after the watermark: what it adds to the rollups and to the rolling windows."""

    pos: Pos
    agg: dict[Key, Totals]
    alerts: list[dict[str, Any]]
    recent: Recent


@dataclass
class CommitResult:
    duplicate: list[bool]
    alerts: list[dict[str, Any]] = field(default_factory=list)


class _DayCache:
    """Day lookups for event times; events come in time order, so the last day usually hits."""

    __slots__ = ("end", "key", "start")

    def __init__(self) -> None:
        self.start, self.end, self.key = 0, 0, ""

    def __call__(self, us: int) -> str:
        if self.start <= us < self.end:
            return self.key
        self.start, self.end, self.key = budget_bounds(us, "day")
        return self.key


def period_keys(kind: str, now_us: int) -> tuple[int, int, tuple[str, ...]]:
    """The budget period of `kind` holding `now_us`: (start, end, the rollup keys it sums): the
    month's key, or the day keys of a day or a week."""
    start, end, key = budget_bounds(now_us, kind)
    return start, end, (key,) if kind == "month" else tuple(period_days(start, end))


def encode_frame(
    tenant: str, events: Sequence[Event], alerts: Sequence[dict[str, Any]], now_us: int
) -> bytes:
    """One log line holding `events` (and the alerts they raised), recorded at `now_us`: what a
    commit appends, and what a bulk loader (bench/limits_scale.py) writes straight to a segment."""
    ids: dict[str, int] = {}
    models: dict[str, int] = {}
    rows = []
    for ev in events:
        ii = ids.setdefault(ev.integration_id, len(ids))
        mi = models.setdefault(ev.model, len(models))
        cost = ev.cost_nc
        rows.append(
            [
                ii,
                mi,
                ev.at_us,
                _json_int(ev.input_tokens),
                _json_int(ev.output_tokens),
                None if cost is None else _json_int(cost),
                ev.call_id,
            ]
        )
    body = {"v": FORMAT, "r": now_us, "t": tenant, "i": list(ids), "m": list(models), "e": rows}
    if alerts:
        body["a"] = list(alerts)
    payload = orjson.dumps(body)
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


def _parse(line: bytes) -> dict[str, Any] | None:
    """The body of a frame line, or None when its checksum or format is not right."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        body = orjson.loads(payload)
    except (ValueError, orjson.JSONDecodeError):
        return None
    return body if isinstance(body, dict) and body.get("v") == FORMAT else None


class _Lines:
    """The frames of a segment from a byte offset, read a chunk at a time: complete lines with
    a valid checksum, with their positions. After `frames()` is exhausted, `end` is the position
    after the last complete line, `tail` the length of an unterminated line after it, and
    `missing` whether the file was not there."""

    def __init__(self, path: Path, start: int) -> None:
        self.path, self.end = path, start
        self.tail, self.missing = 0, False

    def frames(self) -> Iterator[tuple[int, dict[str, Any]]]:
        path = self.path
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below, also when the consumer stops
        except FileNotFoundError:
            self.missing = True
            return
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}", str(path)) from None
        with fh:
            fh.seek(self.end)
            carry = b""
            while True:
                try:
                    block = fh.read(READ_CHUNK)
                except OSError as exc:
                    raise StoreError(f"cannot read {path}: {exc.strerror}", str(path)) from None
                if not block:
                    break
                data = carry + block if carry else block
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                lines = data[:cut].split(b"\n")
                lines.pop()  # the empty piece after the final newline
                for line in lines:
                    line_pos = self.end
                    self.end += len(line) + 1
                    body = _parse(line)
                    if body is not None:  # a damaged complete line is skipped
                        yield line_pos, body
            self.tail = len(carry)


def segment_frames(path: Path) -> Iterator[dict[str, Any]]:
    """The bodies of a log segment's complete frames whose checksum holds (a reader outside the
    store, such as `byok spend`'s recorded days); nothing when the segment expired meanwhile."""
    for _, body in _Lines(path, 0).frames():
        yield body


class UsageStore:
    """The log, the rollups and this process's in-memory view of both. Thread-safe."""

    def __init__(
        self,
        rollup_path: Path,
        log_dir: Path,
        *,
        clock: Clock,
        retention_days: int = DEFAULTS.usage_retention_days,
        durable: bool = True,
        checkpoint_events: int = DEFAULTS.usage_checkpoint_events,
        checkpoint_seconds: float = DEFAULTS.usage_checkpoint_seconds,
    ) -> None:
        self.rollups_file = AtomicJSONStorage(
            rollup_path, schema=FORMAT, durable=durable, check=check_rollups
        )
        self.log_dir = log_dir
        self.clock = clock
        self.retention_days = retention_days
        self.durable = durable
        self.checkpoint_events = checkpoint_events
        self.checkpoint_seconds = checkpoint_seconds
        self._tlock = threading.RLock()
        self._lock_fd: int | None = None
        self._day = _DayCache()
        # the checkpoint
        self._gen: object = object()
        self._rollups: dict[Key, Totals] = {}
        self._cp_alerts: list[dict[str, Any]] = []
        self._watermark: Pos = ("", 0)
        # the log after it, and what the log alone knows
        self._cursor: Pos = ("", 0)
        self._pending: list[_Pending] = []
        self._delta: dict[Key, Totals] = {}
        self._alert_keys: set[str] = set()
        self._window: dict[WKey, list[int]] = {}
        self._cp_recent = False  # the checkpoint holds the last minute before its watermark
        self._backfill: dict[Key, Totals] | None = None  # days rebuilt for an older rollups file
        self._index: DedupeIndex | None = None  # opened by the first commit: readers never do
        self._pending_events = 0
        self._last_checkpoint = time.monotonic()
        self._retention_checked = ""

    # -- reading --------------------------------------------------------------------------------

    def totals(self, tenant: str, integration_id: str, period: str | Sequence[str]) -> Totals:
        """[input, output, cost_nc, requests, unpriced] for one integration and a month "YYYY-MM",
        a day "YYYY-MM-DD" (within the last DAY_ROLLUP_DAYS), or several of them summed."""
        with self._tlock:
            self._refresh()
            return self._totals(tenant, integration_id, period)

    def recent(
        self, tenant: str, integration_id: str, now_us: int, limit: int = 0
    ) -> tuple[int, int | None]:
        """Requests of the integration in the last 60 seconds (event time in (now-60 s, ...]),
        and, when that count reaches `limit`, the time (µs) at which the window frees a slot:
        when the (count - limit + 1)-th oldest of them leaves it."""
        with self._tlock:
            self._refresh()
            return self._recent(tenant, integration_id, now_us, limit)

    def totals_and_recent(
        self,
        tenant: str,
        integration_ids: Iterable[str],
        period: str | Sequence[str] | Mapping[str, Sequence[str]],
        now_us: int,
    ) -> dict[str, tuple[Totals, int]]:
        """`totals` and the `recent` count of many integrations after ONE refresh (a dashboard
        of 100 rows costs two stats, not two hundred). `period`: one for all, or by id."""
        with self._tlock:
            self._refresh()
            by_id = period if isinstance(period, Mapping) else None
            return {
                iid: (
                    self._totals(tenant, iid, period if by_id is None else by_id[iid]),
                    self._recent(tenant, iid, now_us, 0)[0],
                )
                for iid in integration_ids
            }

    def _totals(self, tenant: str, integration_id: str, period: str | Sequence[str]) -> Totals:
        if not isinstance(period, str) and len(period) == 1:
            period = period[0]
        if not isinstance(period, str):
            out = [0, 0, 0, 0, 0]
            for one in period:
                for i, x in enumerate(self._totals(tenant, integration_id, one)):
                    out[i] += x
            return out
        key = (tenant, integration_id, period)
        base = self._rollups.get(key)
        extra = self._delta.get(key)
        if base is None and extra is None:
            return [0, 0, 0, 0, 0]
        if base is None:
            return list(extra or ())
        if extra is None:
            return list(base)
        return [a + b for a, b in zip(base, extra, strict=True)]

    def _recent(
        self, tenant: str, integration_id: str, now_us: int, limit: int
    ) -> tuple[int, int | None]:
        times = self._window.get((tenant, integration_id))
        if not times:
            return 0, None
        cut = bisect.bisect_right(times, now_us - WINDOW_US)
        if cut:
            del times[:cut]
        count = len(times)
        if limit and count >= limit:
            return count, times[count - limit] + WINDOW_US
        return count, None

    def alerts(self, tenant: str, integration_id: str | None, limit: int) -> list[dict[str, Any]]:
        with self._tlock:
            self._refresh()
            found = [
                a
                for a in self._all_alerts()
                if a["tenant_id"] == tenant
                and (integration_id is None or a["integration_id"] == integration_id)
            ]
        found.sort(key=lambda a: (a["created_at_us"], a["id"]), reverse=True)
        return found[:limit]

    def _all_alerts(self) -> Iterator[dict[str, Any]]:
        yield from self._cp_alerts
        for pending in self._pending:
            yield from pending.alerts

    # -- writing --------------------------------------------------------------------------------

    def commit(
        self, tenant: str, events: Sequence[Event], limits: Mapping[str, Limits]
    ) -> CommitResult:
        """Store the events that are not duplicates as one frame; return which were duplicates.

        Returns only after the frame is fsync'd: what it reports as stored is durable.
        """
        from core.usage.dedupe import digest

        with self._tlock, self._locked():
            self._refresh(locked=True)
            now = self.clock()
            now_us = to_us(now)
            index = self._synced_index()
            keys = [
                None if ev.call_id is None else digest(tenant, ev.integration_id, ev.call_id)
                for ev in events
            ]
            stored = index.seen([k for k in keys if k is not None], day_number(self._cutoff(now)))
            batch: set[Digest] = set()
            flags: list[bool] = []
            keep: list[Event] = []
            new_keys: list[Digest] = []
            for ev, key in zip(events, keys, strict=True):
                if key is not None:
                    if key in stored or key in batch:
                        flags.append(True)
                        continue
                    batch.add(key)
                    new_keys.append(key)
                flags.append(False)
                keep.append(ev)
            result = CommitResult(duplicate=flags)
            if keep:
                agg = self._aggregate(tenant, keep)
                result.alerts = self._new_alerts(tenant, agg, limits, now_us)
                recent_after = now_us - WINDOW_US
                recent = [
                    ((tenant, ev.integration_id), ev.at_us)
                    for ev in keep
                    if ev.at_us > recent_after
                ]
                segment = self._write_frame(tenant, keep, agg, recent, result.alerts, now)
                day = day_number(segment)
                # The frame is durable, so acknowledged; an index that failed to take it catches
                # up from the log at the next commit (which fails, storing nothing, if it cannot).
                with contextlib.suppress(StoreError):
                    index.add([(h, c, day) for h, c in new_keys], self._cursor)
            self._maintain(now)
            return result

    def checkpoint(self) -> None:
        """Fold the log into the rollup file now (also done on close)."""
        with self._tlock, self._locked():
            self._refresh(locked=True)
            self._checkpoint()

    def close(self) -> None:
        with self._tlock:
            try:
                if self._pending:
                    self.checkpoint()
            except StoreError:
                # Only a summary: the log keeps everything, and the next writer folds it in.
                # A read-only database (or a full disk) must not make closing fail.
                pass
            finally:
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
                if self._index is not None:
                    self._index.close()
                    self._index = None
                self.rollups_file.close()

    # -- in-memory state ------------------------------------------------------------------------

    def _aggregate(self, tenant: str, events: Sequence[Event]) -> dict[Key, Totals]:
        day = self._day
        ids: dict[str, int] = {}
        sums: dict[tuple[int, str], Totals] = {}
        for ev in events:
            key = (ids.setdefault(ev.integration_id, len(ids)), day(ev.at_us))
            row = sums.get(key)
            if row is None:
                row = sums[key] = [0, 0, 0, 0, 0]
            row[0] += ev.input_tokens
            row[1] += ev.output_tokens
            row[3] += 1
            if ev.cost_nc is None:
                row[4] += 1
            else:
                row[2] += ev.cost_nc
        return _with_months(tenant, list(ids), sums)

    def _ingest_frame(
        self,
        pos: Pos,
        agg: dict[Key, Totals],
        recent: Recent,
        alerts: list[dict[str, Any]],
        n_events: int,
        now_us: int,
    ) -> None:
        window = self._window
        touched: set[WKey] = set()
        after = pos >= self._watermark
        if after or not self._cp_recent:  # else the checkpoint's last minute holds them
            for wkey, at_us in recent:
                bisect.insort(window.setdefault(wkey, []), at_us)
                touched.add(wkey)
            self._prune(touched, now_us)
        for alert in alerts:
            self._alert_keys.add(alert["key"])
        if after:
            self._pending.append(_Pending(pos=pos, agg=agg, alerts=alerts, recent=recent))
            self._pending_events += n_events
            for key, row in agg.items():
                _add(self._delta, key, row)
        elif self._backfill is not None:
            for key, row in agg.items():
                if len(key[2]) == 10:
                    _add(self._backfill, key, row)
                    _add(self._rollups, key, row)

    def _prune(self, keys: Iterable[WKey], now_us: int) -> None:
        """Keep only the last minute, also for integrations nobody reads."""
        recent_after = now_us - WINDOW_US
        window = self._window
        for wkey in keys:
            times = window[wkey]
            if times and times[0] <= recent_after:
                del times[: bisect.bisect_right(times, recent_after)]
            if not times:
                del window[wkey]

    def _refresh(self, *, locked: bool = False) -> None:
        """Pick up another process's checkpoint and every frame appended since we last looked."""
        gen = self.rollups_file.generation()
        if gen != self._gen:
            self._load_checkpoint(gen)
        self._tail(locked)

    def _load_checkpoint(self, gen: object) -> None:
        data = self.rollups_file.snapshot()
        rollups: dict[Key, Totals] = {}
        for doc in data.get("rollups", {}).values():
            rollups[(doc["tenant_id"], doc["integration_id"], doc["period"])] = _doc_totals(doc)
        state = data.get("state", {}).get("1", {})
        watermark: Pos = (state.get("segment", ""), state.get("offset", 0))
        days = data.get("days")
        backfilling = False
        if days is not None:
            self._backfill = None
            for doc in days.values():
                tenant, iid = doc["tenant_id"], doc["integration_id"]
                for day, row in doc["days"].items():
                    rollups[(tenant, iid, day)] = [_int(x) for x in row]
        elif watermark > ("", 0):
            # A rollups file of a byok without daily rollups: the days of what it folded are
            # rebuilt from the retained log (read from its start once), then written with the
            # next checkpoint.
            if self._backfill is None:
                self._backfill = {}
                backfilling = True
            for p in self._pending:
                if p.pos < watermark:  # folded by that byok: their days go to the backfill
                    for key, row in p.agg.items():
                        if len(key[2]) == 10:
                            _add(self._backfill, key, row)
            for key, row in self._backfill.items():
                _add(rollups, key, row)
        self._rollups = rollups
        self._cp_alerts = list(data.get("alerts", {}).values())
        self._watermark = watermark
        self._gen = gen
        # Frames before the new watermark are in the rollups now.
        self._pending = [p for p in self._pending if p.pos >= watermark]
        self._pending_events = 0
        delta: dict[Key, Totals] = {}
        for pending in self._pending:
            # each event is in one month's row (and in one day's: not counted again)
            self._pending_events += sum(r[3] for k, r in pending.agg.items() if len(k[2]) == 7)
            for key, row in pending.agg.items():
                _add(delta, key, row)
        self._delta = delta
        self._alert_keys = {a["key"] for a in self._all_alerts()}
        recent = data.get("recent")
        self._cp_recent = recent is not None
        if recent is not None:
            # The checkpoint holds the last minute of the frames before its watermark: the log
            # is read from the watermark on, not from its start.
            window: dict[WKey, list[int]] = {}
            for tenant, iid, times in recent.get("1", {}).get("rows", ()):
                window[(tenant, iid)] = sorted(times)
            for pending in self._pending:
                for wkey, at_us in pending.recent:
                    bisect.insort(window.setdefault(wkey, []), at_us)
            self._window = window
            if not backfilling:
                self._cursor = max(self._cursor, watermark)
        # else: a rollups file of an older byok, without the last minute: the log is read from
        # its start (the window then holds every frame read, as before).

    def _segments(self) -> list[str]:
        try:
            names = [
                e.name
                for e in os.scandir(self.log_dir)
                if e.name.endswith(SEGMENT_SUFFIX) and not e.name.startswith(".")
            ]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(
                f"cannot read {self.log_dir}: {exc.strerror}", str(self.log_dir)
            ) from None
        names.sort()
        return [n[: -len(SEGMENT_SUFFIX)] for n in names]

    def _tail(self, locked: bool) -> None:
        segment, offset = self._cursor
        names = [n for n in self._segments() if n >= segment]
        if names == [segment]:
            # The common case: no new segment; one stat says whether ours grew.
            try:
                if os.stat(self._seg_path(segment)).st_size == offset:
                    return
            except FileNotFoundError:
                return
        if not names:
            return
        now_us = to_us(self.clock())
        for i, name in enumerate(names):
            start = offset if name == segment else 0
            last = i == len(names) - 1
            end = self._read_segment(name, start, locked=locked, last=last, now_us=now_us)
            self._cursor = (name, end)

    def _read_segment(self, name: str, start: int, *, locked: bool, last: bool, now_us: int) -> int:
        path = self._seg_path(name)
        # Every frame is checked before any is taken in: a bad one leaves this process's view
        # (and the file) as they were, so nothing is counted twice on the next read.
        folded: list[tuple[int, dict[Key, Totals], Recent, list[dict[str, Any]], int]] = []
        recent_after = now_us - WINDOW_US
        with paused_gc():  # a tail of many frames makes many small objects; none are cycles
            reader = _Lines(path, start)
            for line_pos, body in reader.frames():
                summed = _fold_frame(body, self._day, recent_after)
                if isinstance(summed, str):
                    raise StoreError(
                        f"{path}: the frame at byte {line_pos} has a valid checksum but "
                        f"{summed}; the log was left untouched. Move the segment aside to read "
                        "the rest.",
                        str(path),
                    )
                folded.append((line_pos, *summed[:2], list(body.get("a", ())), summed[2]))
        if reader.missing:  # deleted by retention: its frames are in the rollups
            return 0
        for line_pos, agg, recent, alerts, n_events in folded:
            self._ingest_frame((name, line_pos), agg, recent, alerts, n_events, now_us)
        pos = reader.end
        if reader.tail and locked:
            # An unterminated line under the lock is a frame whose writer died mid-append: it was
            # never acknowledged. Cut it off so the next frame starts on a clean line.
            self._truncate(path, pos)
        elif reader.tail and not last:
            # No writer appends to an older segment, so an unterminated tail there is dead too.
            pos += reader.tail
        return pos

    # -- the dedupe index -----------------------------------------------------------------------

    def _synced_index(self) -> DedupeIndex:
        """The call_id index, holding every frame of the log (under the lock, after _refresh)."""
        from core.usage.dedupe import DedupeIndex

        index = self._index
        if index is None:
            index = self._index = DedupeIndex(self.log_dir)
        index.open()
        segment, offset = index.pos
        try:
            shrunk = bool(segment) and os.stat(self._seg_path(segment)).st_size < offset
        except FileNotFoundError:
            shrunk = False  # expired: the frames after it are in later segments
        if shrunk or index.pos > self._cursor:
            index.reset()  # the log is not the one indexed (a segment moved aside): rebuild
        if index.pos != self._cursor:
            self._catch_up(index)
        return index

    def _catch_up(self, index: DedupeIndex) -> None:
        """Index the frames after the index's position: those of a writer that died between its
        append and its index commit, or the whole retained log for a new index."""
        from core.usage.dedupe import digest

        segment, offset = index.pos
        rows: list[tuple[int, int, int]] = []
        for name in self._segments():
            if name < segment:
                continue
            day = day_number(name)
            reader = _Lines(self._seg_path(name), offset if name == segment else 0)
            for _, body in reader.frames():
                try:
                    tenant, ids = body["t"], body["i"]
                    rows.extend(
                        (*digest(tenant, ids[row[0]], row[6]), day)
                        for row in body["e"]
                        if row[6] is not None
                    )
                except (KeyError, IndexError, TypeError):
                    continue  # a frame of the wrong shape: _refresh refuses it when it counts
                if len(rows) >= INDEX_BATCH:
                    index.add(rows, (name, reader.end))
                    rows = []
        index.add(rows, self._cursor)

    # -- files ----------------------------------------------------------------------------------

    def _seg_path(self, name: str) -> Path:
        return self.log_dir / f"{name}{SEGMENT_SUFFIX}"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_fd is None:
            ensure_private_dir(self.log_dir)
            lock_path = self.log_dir / ".lock"
            self._lock_fd = open_lock(lock_path, str(lock_path))
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _target_segment(self, now: datetime) -> str:
        today = now.astimezone(UTC).date().isoformat()
        segment = self._cursor[0]
        # Never append behind the newest segment, even if this clock is behind another's.
        return max(today, segment)

    def _append(self, segment: str, frame: bytes) -> int:
        path = self._seg_path(segment)
        created = not path.exists()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror}", str(path)) from None
        start = os.fstat(fd).st_size
        try:
            write_all(fd, frame)
            if self.durable:
                os.fdatasync(fd)
            if created and self.durable:
                fsync_dir(self.log_dir)
        except OSError as exc:
            # Nothing of this frame may count: cut it off again before anyone reads past it.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise StoreError(f"cannot write {path}: {exc.strerror}", str(path)) from None
        finally:
            os.close(fd)
        return start

    def _truncate(self, path: Path, size: int) -> None:
        try:
            with open(path, "r+b") as fh:
                fh.truncate(size)
                if self.durable:
                    os.fsync(fh.fileno())
        except OSError as exc:
            raise StoreError(f"cannot repair {path}: {exc.strerror}", str(path)) from None

    # -- checkpoints and retention --------------------------------------------------------------

    def _cutoff(self, now: datetime) -> str:
        """The oldest segment still kept: events recorded on or after this day dedupe."""
        return (now.astimezone(UTC).date() - timedelta(days=self.retention_days)).isoformat()

    def _maintain(self, now: datetime) -> None:
        due = (
            self._pending_events >= self.checkpoint_events
            or time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds
        )
        cutoff = self._cutoff(now)
        expired = cutoff != self._retention_checked and any(
            n < cutoff for n in self._segments()
        )
        if due or expired:
            self._checkpoint()
        if cutoff != self._retention_checked:
            self._expire(cutoff)

    def _checkpoint(self) -> None:
        if not self._pending and self._watermark >= self._cursor:
            self._last_checkpoint = time.monotonic()
            return
        with self.rollups_file.transaction():
            data = self.rollups_file.read() or {}
            days_delta: dict[Key, Totals] = {}
            if "days" not in data and self._backfill:  # the first checkpoint with daily rollups
                days_delta = {key: list(row) for key, row in self._backfill.items()}
            table = data.setdefault("rollups", {})
            for key, row in self._delta.items():
                if len(key[2]) != 7:
                    _add(days_delta, key, row)
                    continue
                doc_id = "/".join(key)
                doc = table.get(doc_id)
                base = _doc_totals(doc) if doc else [0, 0, 0, 0, 0]
                total = [a + b for a, b in zip(base, row, strict=True)]
                table[doc_id] = {
                    "tenant_id": key[0],
                    "integration_id": key[1],
                    "period": key[2],
                    "input_tokens": _json_int(total[0]),
                    "output_tokens": _json_int(total[1]),
                    "cost_nc": str(total[2]),
                    "requests": _json_int(total[3]),
                    "unpriced": _json_int(total[4]),
                }
            self._write_days(data.setdefault("days", {}), days_delta)
            alerts = data.setdefault("alerts", {})
            for pending in self._pending:
                for alert in pending.alerts:
                    alerts[alert["id"]] = alert
            data["state"] = {"1": {"segment": self._cursor[0], "offset": self._cursor[1]}}
            # the last minute of what the rollups now hold: a fresh reader starts at the
            # watermark and still counts the rate limit's window right
            cut = to_us(self.clock()) - WINDOW_US
            rows = [[t, i, [x for x in times if x > cut]] for (t, i), times in self._window.items()]
            data["recent"] = {"1": {"rows": [r for r in rows if r[2]]}}
            self.rollups_file.write(data)
        self._last_checkpoint = time.monotonic()
        self._load_checkpoint(self.rollups_file.generation())

    def _write_days(self, table: dict[str, Any], delta: Mapping[Key, Totals]) -> None:
        """Add `delta` (day keys) to the daily rollups and drop the days past DAY_ROLLUP_DAYS."""
        oldest = day_key(self.clock() - timedelta(days=DAY_ROLLUP_DAYS - 1))
        for (tenant, iid, day), row in delta.items():
            if day < oldest:
                continue
            doc = table.setdefault(
                f"{tenant}/{iid}", {"tenant_id": tenant, "integration_id": iid, "days": {}}
            )
            have = doc["days"].get(day)
            total = row if have is None else [_int(a) + b for a, b in zip(have, row, strict=True)]
            doc["days"][day] = [_json_int(total[0]), _json_int(total[1]), str(total[2]),
                                _json_int(total[3]), _json_int(total[4])]  # fmt: skip
        for doc_id in list(table):
            days = table[doc_id]["days"]
            for day in [d for d in days if d < oldest]:
                del days[day]
            if not days:
                del table[doc_id]

    def _expire(self, cutoff: str) -> None:
        """Delete segments recorded before the retention, once the rollups include them."""
        removed = False
        for name in self._segments():
            if name >= cutoff:
                break
            if (name, 1 << 62) > self._watermark:
                break  # not folded into the rollups yet (cannot happen after a checkpoint)
            try:
                os.unlink(self._seg_path(name))
                removed = True
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StoreError(
                    f"cannot remove {self._seg_path(name)}: {exc.strerror}", str(self.log_dir)
                ) from None
        if removed and self.durable:
            fsync_dir(self.log_dir)
        if self._index is not None:
            self._index.expire(day_number(cutoff))
        self._retention_checked = cutoff

    def _write_frame(
        self,
        tenant: str,
        events: Sequence[Event],
        agg: dict[Key, Totals],
        recent: Recent,
        alerts: list[dict[str, Any]],
        now: datetime,
    ) -> str:
        """Append one frame (under the lock) and take it into this process's view; its
        segment. The alerts' keys are given back if the append fails."""
        now_us = to_us(now)
        frame = encode_frame(tenant, events, alerts, now_us)
        segment = self._target_segment(now)
        try:
            start = self._append(segment, frame)
        except BaseException:
            self._alert_keys.difference_update(a["key"] for a in alerts)
            raise
        self._ingest_frame((segment, start), agg, recent, alerts, len(events), now_us)
        self._cursor = (segment, start + len(frame))
        return segment

    # -- alerts ---------------------------------------------------------------------------------

    def _new_alerts(
        self,
        tenant: str,
        agg: Mapping[Key, Totals],
        limits: Mapping[str, Limits],
        now_us: int,
    ) -> list[dict[str, Any]]:
        """The integration's alert thresholds (80%, 100% by default) of a budget or token limit
        that this batch reaches in a budget period (its `budget_period` holding the events) and
        that have no alert yet in that period."""
        out: list[dict[str, Any]] = []
        for (iid, period), sums in self._periods_touched(tenant, agg, limits).items():
            used = {"budget": sums[2], "tokens": sums[0] + sums[1]}
            out += self._threshold_alerts(tenant, iid, period, limits[iid], used, None, now_us)
        return out

    def _threshold_alerts(
        self,
        tenant: str,
        iid: str,
        period: str,
        lim: Limits,
        used: Mapping[str, int],
        source: str | None,
        now_us: int,
    ) -> list[dict[str, Any]]:
        """The alerts of the thresholds `used` (nano-cents of "budget", tokens of "tokens")
        reaches in `period` that have none yet, whatever source raised that one; `source`
        names figures that are not recorded usage ("reported")."""
        out: list[dict[str, Any]] = []
        checks = (
            ("budget", lim.budget_limit_cents, NC_PER_CENT),
            ("tokens", lim.token_limit_month, 1),
        )
        for kind, limit, unit in checks:
            if not limit or kind not in used:
                continue
            figure = used[kind]
            for threshold in lim.alert_thresholds:
                if figure * 100 < threshold * limit * unit:
                    continue
                akey = f"{tenant}/{iid}/{period}/{kind}/{threshold}"
                if akey in self._alert_keys:
                    continue
                self._alert_keys.add(akey)
                alert = {
                    "id": uuid.uuid4().hex,
                    "key": akey,
                    "tenant_id": tenant,
                    "integration_id": iid,
                    "integration_name": lim.name,
                    "period": period,
                    "kind": kind,
                    "threshold": threshold,
                    "limit": limit,
                    "used": _json_int(figure if unit == 1 else nc_round_cents(figure)),
                    "percent": figure / (limit * unit) * 100,
                    "created_at_us": now_us,
                }
                if source is not None:
                    alert["source"] = source
                out.append(alert)
        return out

    def raise_alerts(
        self,
        tenant: str,
        figures: Mapping[str, tuple[str, Mapping[str, int]]],
        limits: Mapping[str, Limits],
        source: str,
    ) -> list[dict[str, Any]]:
        """Alerts from figures that recording did not bring (`source`: the providers' reported
        spend): by integration, (its current period's key, the used figures as
        `_threshold_alerts` takes them). Raised once per integration, period, kind and
        threshold, as recording raises them, and stored as a frame of no events; durable on
        return."""
        with self._tlock, self._locked():
            self._refresh(locked=True)
            now = self.clock()
            now_us = to_us(now)
            alerts: list[dict[str, Any]] = []
            for iid, (period, used) in figures.items():
                lim = limits.get(iid)
                if lim is not None:
                    alerts += self._threshold_alerts(tenant, iid, period, lim, used, source, now_us)
            if alerts:
                self._write_frame(tenant, [], {}, [], alerts, now)
            return alerts

    def _periods_touched(
        self, tenant: str, agg: Mapping[Key, Totals], limits: Mapping[str, Limits]
    ) -> dict[tuple[str, str], Totals]:
        """The totals (stored + this batch) of each (integration, period key) the batch adds to,
        for integrations with a budget or token limit. A month is its monthly rollup; a day or a
        week sums daily rollups."""
        periods: dict[tuple[str, str], tuple[str, ...]] = {}
        for _, iid, key in agg:
            lim = limits.get(iid)
            if lim is None or (not lim.budget_limit_cents and not lim.token_limit_month):
                continue
            kind = lim.budget_period
            if kind == "month":
                if len(key) == 7:
                    periods[(iid, key)] = (key,)
            elif len(key) == 10:
                start_us = to_us(datetime.fromisoformat(key).replace(tzinfo=UTC))
                _, _, pkey = budget_bounds(start_us, kind)
                if (iid, pkey) not in periods:
                    periods[(iid, pkey)] = period_keys(kind, start_us)[2]
        out: dict[tuple[str, str], Totals] = {}
        for (iid, pkey), keys in periods.items():
            total = [0, 0, 0, 0, 0]
            for key in keys:
                for part in (self._rollups, self._delta, agg):
                    row = part.get((tenant, iid, key))
                    if row is not None:
                        for i in range(5):
                            total[i] += row[i]
            out[(iid, pkey)] = total
        return out


def open_usage_store(rollup_path: Path, **options: Any) -> UsageStore:
    """The usage store of a database whose rollup file is `rollup_path` (`byok.usage.json`);
    its log is the sibling `byok.usage.d/`. Options are UsageStore's keyword arguments."""
    return UsageStore(rollup_path, rollup_path.with_suffix(".d"), **options)
