"""Time, injectable, so tests can pin it and cross a month boundary on purpose.

Every conversion between datetimes, stored text and integer microseconds lives here. Usage
events carry integer microseconds since the Unix epoch (exact, cheap to compare and sum); the
integrations file carries fixed-width ISO text; periods are UTC calendar months. Stdlib only:
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


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The first instant of the month "YYYY-MM" and of the month after it (UTC)."""
    return _month(int(period[:4]), int(period[5:7]))


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
