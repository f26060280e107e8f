"""Time, injectable, so tests can pin it and cross a month boundary on purpose.

Every conversion between datetimes, stored text and integer microseconds lives here. Usage
events carry integer microseconds since the Unix epoch (exact, cheap to compare and sum); the
integrations file carries fixed-width ISO text; periods are UTC calendar months by default, or
UTC days or ISO weeks (Monday 00:00 to Monday 00:00) per integration (`budget_period`). Stdlib only:
the console's read side imports this before anything heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_S = 1_000_000
_US = timedelta(microseconds=1)
# What a datetime can hold in UTC: a time outside (0001-01-01T00:00+01:00 is in the year 0 UTC)
# has microseconds but no date, and `from_us` or `month_bounds` would overflow on it.
FIRST_US = (datetime.min.replace(tzinfo=UTC) - EPOCH) // _US
END_US = (datetime.max.replace(tzinfo=UTC) - EPOCH) // _US + 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def seconds_before(moment: datetime, seconds: float) -> datetime:
    """`seconds` before `moment`, or the first representable instant when that is earlier."""
    try:
        return moment - timedelta(seconds=seconds)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def to_iso(moment: datetime) -> str:
    """A fixed-width UTC form (microseconds kept) that sorts as text in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact, no float on the way)."""
    return (moment - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def month_bounds(us: int) -> tuple[int, int, str]:
    """The UTC calendar month holding `us`: (start, end exclusive, "YYYY-MM")."""
    moment = from_us(us)
    start, end = _month(moment.year, moment.month)
    return to_us(start), to_us(end), f"{moment.year:04d}-{moment.month:02d}"


BUDGET_PERIODS = ("day", "week", "month")
_DAY = timedelta(days=1)


def day_key(moment: datetime) -> str:
    """The UTC day of an aware datetime as "YYYY-MM-DD" (the usage store's daily rollup key)."""
    return moment.astimezone(UTC).date().isoformat()


def budget_bounds(us: int, kind: str) -> tuple[int, int, str]:
    """The budget period of kind "day", "week" or "month" holding `us`: (start, end exclusive,
    key). Keys: "YYYY-MM-DD" for a day, the ISO week "YYYY-Www" (Monday 00:00 UTC on) for a
    week, "YYYY-MM" for a month; `period_bounds` reads each back."""
    if kind == "month":
        return month_bounds(us)
    day = from_us(us).date()
    if kind == "day":
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return to_us(start), to_us(start + _DAY), day.isoformat()
    if kind != "week":
        raise ValueError(f"unknown budget period {kind!r}")
    year, week, weekday = day.isocalendar()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - (weekday - 1) * _DAY
    return to_us(start), to_us(start + 7 * _DAY), f"{year:04d}-W{week:02d}"


def period_days(start_us: int, end_us: int) -> list[str]:
    """The "YYYY-MM-DD" keys of the UTC days in [start, end): a week's 7, a day's 1."""
    day, end = from_us(start_us), from_us(end_us)
    out = []
    while day < end:
        out.append(day.date().isoformat())
        day += _DAY
    return out


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The first instant of a period key (month "YYYY-MM", week "YYYY-Www", day "YYYY-MM-DD")
    and the first instant after it (UTC)."""
    if len(period) == 7:
        return _month(int(period[:4]), int(period[5:7]))
    if period[5] == "W":
        start = datetime.fromisocalendar(int(period[:4]), int(period[6:8]), 1).replace(tzinfo=UTC)
        return start, start + 7 * _DAY
    start = datetime.fromisoformat(period).replace(tzinfo=UTC)
    return start, start + _DAY


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
