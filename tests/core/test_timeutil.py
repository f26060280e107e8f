"""core/timeutil.py, the one home of time conversions: exact microseconds, UTC calendar months,
fixed-width ISO text; and stdlib only, since the console's read side imports it first."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

from core.timeutil import (
    EPOCH,
    from_iso,
    from_us,
    month_bounds,
    period_bounds,
    to_iso,
    to_us,
)


def test_microseconds_are_exact_both_ways() -> None:
    moment = datetime(2026, 2, 28, 23, 59, 59, 999_999, tzinfo=UTC)
    assert from_us(to_us(moment)) == moment
    assert to_us(EPOCH) == 0 and to_us(EPOCH + timedelta(microseconds=1)) == 1
    far = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert from_us(to_us(far)) == far  # no float on the way, so no rounding at any size
    east = moment.astimezone(timezone(timedelta(hours=9)))
    assert to_us(east) == to_us(moment)


def test_months_are_utc_calendar_months() -> None:
    def at(*args: int) -> int:
        return to_us(datetime(*args, tzinfo=UTC))

    assert month_bounds(at(2026, 2, 14, 12)) == (at(2026, 2, 1), at(2026, 3, 1), "2026-02")
    assert month_bounds(at(2026, 12, 31, 23, 59)) == (at(2026, 12, 1), at(2027, 1, 1), "2026-12")
    assert month_bounds(at(2027, 1, 1)) == (at(2027, 1, 1), at(2027, 2, 1), "2027-01")
    assert month_bounds(at(2027, 1, 1) - 1)[2] == "2026-12"  # the end is exclusive
    assert period_bounds("2026-12") == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    start, end, period = month_bounds(at(2024, 2, 29))
    assert period_bounds(period) == (from_us(start), from_us(end))


def test_iso_text_is_fixed_width_and_sorts_in_time_order() -> None:
    a = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    b = a + timedelta(microseconds=5)
    assert to_iso(a) == "2026-01-01T00:00:00.000000+00:00" and to_iso(a) < to_iso(b)
    assert from_iso(to_iso(b)) == b and from_iso(None) is None and from_iso("") is None


def test_it_imports_nothing_outside_the_standard_library() -> None:
    code = (
        "import json, sys; before = set(sys.modules); import core.timeutil; "
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if m != 'core' "
        "and not m.startswith('core.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert all(name.split(".")[0] in sys.stdlib_module_names for name in loaded), loaded
