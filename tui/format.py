"""How the console writes values: health as symbol + word, percents, money, "3m ago".

Kept apart from the widgets so the home table, the detail screen and the limits screen say the same
thing the same way, and so every state reads without colour (NO_COLOR, 16-colour terminals).

Data (a name, a provider's message, a model id) reaches a widget through `safe`: shown literally,
never read as Rich/Textual markup (`[/x]`, `[@click=app.quit]`), with control characters made
visible, so neither a database written by an older version nor a provider can attack the terminal.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.style import Style
from rich.text import Text

from core.enums import HealthState, IntegrationStatus

if TYPE_CHECKING:
    from core.watch.status import WatcherStatus

# The order the console lists health states in (header counts, the health log's filter).
HEALTH_ORDER = (HealthState.HEALTHY, HealthState.DEGRADED, HealthState.FAILING, HealthState.UNKNOWN)
HEALTH_SYMBOL: dict[str, str] = {
    HealthState.HEALTHY: "✔",
    HealthState.DEGRADED: "▲",
    HealthState.FAILING: "✖",
    HealthState.UNKNOWN: "?",
}
# The style of each state is a name; its look is the component class `state--<name>` of the
# console's screens (app.tcss), so every theme, 16-colour terminal and NO_COLOR gets its own.
HEALTH_STYLE: dict[str, str] = {
    HealthState.HEALTHY: "healthy",
    HealthState.DEGRADED: "degraded",
    HealthState.FAILING: "failing",
    HealthState.UNKNOWN: "unknown",
}
STATUS_STYLE: dict[str, str] = {
    IntegrationStatus.ENABLED: "",
    IntegrationStatus.CREATED: "muted",
    IntegrationStatus.DISABLED: "muted",
    IntegrationStatus.ERROR: "failing",
}
STYLE_NAMES = ("healthy", "degraded", "failing", "unknown", "muted", "warn", "over")
Look = Callable[[str], Style]  # a style name -> its Rich style (DataScreen.look); "" -> none


def lines(text: str) -> str:
    """`text` with control characters made visible, line ends kept."""
    # Printable lines (str.isprintable: no control, format, separator or surrogate character)
    # are what `visible` leaves as they are: the common case (a thousand cells at the first
    # paint) is done without it, and without importing it.
    if text.isprintable() or text.replace("\n", "").isprintable():
        return text
    from core.integrations.redaction import visible

    return "\n".join(visible(line) for line in text.split("\n"))


def safe(content: str | Text) -> Text:
    """What a widget may show: a str as literal text (no markup); a Text with its styles kept;
    in both, control characters other than line ends shown as escapes (`\x1b`)."""
    if isinstance(content, str):
        return Text(lines(content))
    plain = content.plain
    if lines(plain) == plain:
        return content
    out = content.blank_copy()
    edges = {0, len(plain)} | {i for s in content.spans for i in (s.start, s.end) if i < len(plain)}
    cuts = sorted(edges)
    for start, end in itertools.pairwise(cuts):
        at = len(out)
        out.append(lines(plain[start:end]))
        for span in content.spans:
            if span.start <= start and end <= span.end:
                out.stylize(span.style, at, len(out))
    return out


def cell(content: str | Text) -> str | Text:
    """A DataTable cell: a str escaped for the table's own markup parsing (so it renders as the
    table renders text), a Text made `safe`."""
    return escape(lines(content)) if isinstance(content, str) else safe(content)


def value(enum_or_text: object) -> str:
    """The plain string of a str-enum or text (`HealthState.HEALTHY` -> `healthy`)."""
    return str(getattr(enum_or_text, "value", enum_or_text))


def health_text(state: object, look: Look) -> Text:
    word = value(state)
    return Text(f"{HEALTH_SYMBOL.get(word, '?')} {word}", style=look(HEALTH_STYLE.get(word, "")))


def watch_indicator(status: WatcherStatus | None, look: Look) -> Text:
    """The home header's word on `byok watch`: whether one runs, and the outbox's undelivered
    items; nothing when no watcher ever ran on this database."""
    if status is None:
        return Text()
    text = Text("  ·  ")
    if status.running:
        text.append("watch ✔", style=look("healthy"))
    elif status.stale:
        text.append("watch stale", style=look("failing"))
    else:
        text.append("watch off", style=look("muted"))
    for state, style in (("pending", "warn"), ("dead", "over")):
        if status.depth.get(state):
            text.append(f" {status.depth[state]:,} {state}", style=look(style))
    return text


def health_plain(state: object) -> str:
    word = value(state)
    return f"{HEALTH_SYMBOL.get(word, '?')} {word}"


def status_text(status: object, look: Look) -> Text:
    word = value(status)
    return Text(word, style=look(STATUS_STYLE.get(word, "")))


def ago(moment: datetime | None, now: datetime) -> str:
    """A short relative time; deterministic for a fixed `now` (snapshots pin the clock)."""
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "just now"
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def latency(ms: int | None) -> str:
    if ms is None:
        return "–"
    return f"{ms} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def percent(pct: float | None, limit: int) -> str:
    """A percent as core computed it (not capped: 140.0 means 40% over); `–` when unlimited."""
    if pct is None:
        return "n/a"
    if not limit:
        return "–"
    return f"{pct:.0f}%" if pct >= 10 else f"{pct:.1f}%"


def level_style(pct: float | None, limit: int) -> str:
    """The style name of a limit's level: 80% warns, 100% is over."""
    if pct is None or not limit:
        return ""
    if pct >= 100:
        return "over"
    if pct >= 80:
        return "warn"
    return ""


def percent_text(pct: float | None, limit: int, look: Look) -> Text:
    text = percent(pct, limit)
    if limit and pct is not None and pct >= 100:
        text += "!"  # over the limit reads without colour too
    return Text(text, style=look(level_style(pct, limit)), justify="right")


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def count(n: int) -> str:
    return f"{n:,}"


_THIS = {"day": "today", "week": "this week", "month": "this month"}
_A = {"day": " a day", "week": " a week", "month": ""}  # a month is the default: unsaid


def this_period(kind: str) -> str:
    """A budget period as people say it: "today", "this week", "this month"."""
    return _THIS.get(kind, f"this {kind}")


def per_period(kind: str) -> str:
    """What follows a limit of a day or week ("$5.00 a week"); nothing for the default month."""
    return _A.get(kind, "")


def bar(pct: float | None, limit: int, width: int = 12) -> str:
    """A text gauge (`██████░░░░`) that clamps at full; the real percent is written beside it."""
    if pct is None or not limit:
        return "·" * width
    filled = min(width, round(width * min(pct, 100.0) / 100))
    return "█" * filled + "░" * (width - filled)


def cents_from_dollars(text: str) -> int | str:
    """Parse "12.50" or "$1,200" to cents; return the text unchanged when it is not a number,
    so that the core's own message about the field is what the user reads."""
    cleaned = text.strip().replace(",", "").removeprefix("$").strip()
    if not cleaned:
        return 0
    try:
        amount = float(cleaned)
    except ValueError:
        return text
    if amount != amount or amount in (float("inf"), float("-inf")):
        return text
    return round(amount * 100)


def int_or_text(text: str) -> int | str:
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned:
        return 0
    try:
        return int(cleaned)
    except ValueError:
        return text


def ago_interval(seconds: float | None) -> str:
    if not seconds:
        return "off"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
