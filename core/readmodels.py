"""The console's two read models, declared once: `Row` and `LimitFigures`.

They are plain frozen dataclasses so the console's first paint needs no pydantic. These class
bodies are the one declaration of their fields (names, types, defaults, docs, order): core.models
builds `IntegrationSummaryResult` and `LimitsStatusResult` from them, and the readers of a stored
document (`to_row`, `row_values`, used by core.results too) are generated from `Row`, so a new
field is one edit here (tests/core/test_read_models.py checks that the models agree).

No `from __future__ import annotations`: the field types are read as objects, by core.models and
by the readers' generator.
"""

import linecache
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any, get_args

from core.enums import HealthState, IntegrationStatus, ProviderType
from core.timeutil import from_iso

__all__ = ["DOC", "LimitFigures", "Row", "row_values", "to_row"]

Doc = Mapping[str, Any]
DOC = "doc"  # the metadata key of a field's doc; core.models makes it the field's description


def _doc(text: str) -> dict[str, str]:
    return {DOC: text}


@dataclass(frozen=True, slots=True)
class Row:
    """One integration as a table row: enough for a table, nothing secret."""

    id: str
    name: str
    provider_type: ProviderType
    status: IntegrationStatus
    health_state: HealthState
    default_model: str | None
    created_at: datetime
    health_checked_at: datetime | None = None
    health_latency_ms: int | None = None
    budget_limit_cents: int = field(default=0, metadata=_doc("cents a period; 0 = unlimited"))
    token_limit_month: int = field(default=0, metadata=_doc("tokens a period; 0 = unlimited"))
    rate_limit_rpm: int = field(default=0, metadata=_doc("requests a minute; 0 = unlimited"))
    budget_period: str = field(
        default="month", metadata=_doc("period of the budget and token limits: day, week, month")
    )


@dataclass(frozen=True, slots=True)
class LimitFigures:
    """An integration's usage against its limits in its current budget period (UTC): the
    calendar month, or the day or ISO week (Monday 00:00 on) its `budget_period` names. The
    token limit keeps its contract name `token_limit_month` and applies over the same period."""

    integration_id: str
    budget_limit_cents: int
    budget_used_cents: int = field(metadata=_doc("cost in the period, rounded half up"))
    budget_percent: float = field(metadata=_doc("used / limit * 100, not capped; 0.0 if unlimited"))
    token_limit_month: int
    tokens_used_month: int = field(metadata=_doc("input + output tokens in the period"))
    token_percent: float = field(metadata=_doc("tokens used / limit * 100, as budget_percent"))
    rate_limit_rpm: int
    requests_this_minute: int = field(metadata=_doc("requests in the last 60 seconds"))
    rate_percent: float = field(metadata=_doc("requests this minute / limit * 100, likewise"))
    period_start: datetime = field(metadata=_doc("first instant of the period (UTC)"))
    period_end: datetime = field(metadata=_doc("first instant after the period, exclusive"))
    requests_month: int = field(default=0, metadata=_doc("requests in the period"))
    unpriced_calls: int = field(default=0, metadata=_doc("calls of unknown price, costed 0"))
    limits_source: str = field(
        default="max", metadata=_doc("the integration's setting: recorded, reported or max")
    )
    budget_source: str = field(
        default="recorded", metadata=_doc("what budget_used_cents counts: recorded or reported")
    )
    tokens_source: str = field(
        default="recorded", metadata=_doc("what tokens_used_month counts: recorded or reported")
    )
    recorded_cents: int = field(default=0, metadata=_doc("recorded cost in the period, rounded"))
    recorded_tokens: int = field(default=0, metadata=_doc("recorded input + output tokens"))
    reported_cents: float | None = field(
        default=None,
        metadata=_doc("cost the provider reported in the period; None: no synced day in it"),
    )
    reported_tokens: int | None = field(
        default=None, metadata=_doc("input + output tokens the provider reported; None likewise")
    )
    reported_synced_at: datetime | None = field(
        default=None, metadata=_doc("the last sync of a reported day of the period")
    )
    budget_period: str = field(default="month", metadata=_doc("'day', 'week' or 'month' (UTC)"))

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in order, not copied (dataclasses.asdict deep-copies: slow)."""
        return {name: getattr(self, name) for name in self.__slots__}


def _compile_readers() -> tuple[Callable[[Doc], Row], Callable[[Doc], dict[str, Any]]]:
    """`to_row` and `row_values` as straight-line code, generated from `Row` as dataclasses
    generates __init__: as fast as hand-written ones (a loop over per-field readers costs ~20%
    more per row), without a second field list.

    Each field comes from the stored document's key of the same name: an enum by value, a
    datetime parsed from ISO text, str/int/float/bool as stored; a field that defaults to None
    may be missing, and so may a text field with a default (a setting newer than the document).
    Any other type is refused here, at import, rather than read wrongly.
    """
    scope: dict[str, Any] = {"Row": Row, "from_iso": from_iso}
    reads: dict[str, str] = {}
    for f in fields(Row):
        optional = f.default is None
        read = f"doc.get({f.name!r})" if optional else f"doc[{f.name!r}]"
        if isinstance(f.default, str):
            read = f"(doc.get({f.name!r}) or {f.default!r})"
        kinds = [t for t in get_args(f.type) or (f.type,) if t is not type(None)]
        kind = kinds[0] if len(kinds) == 1 else None
        if isinstance(kind, type) and issubclass(kind, Enum) and not optional:
            scope[f"_{f.name}"] = {m.value: m for m in kind}  # not EnumType.__call__: slow
            read = f"_{f.name}[{read}]"
        elif kind is datetime:
            read = f"from_iso({read})"
        elif kind not in (str, int, float, bool):
            raise TypeError(f"core.readmodels cannot read Row.{f.name}: {f.type}")
        reads[f.name] = read
    # A line a field, so that a traceback (KeyError: a key missing) names it.
    source = (
        "def to_row(doc):\n    return Row(\n"
        + "".join(f"        {read},\n" for read in reads.values())
        + "    )\n\n\ndef row_values(doc):\n    return {\n"
        + "".join(f"        {name!r}: {read},\n" for name, read in reads.items())
        + "    }\n"
    )
    filename = "<generated from core.readmodels.Row>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), scope)
    scope["to_row"].__doc__ = "A stored integration document as a `Row`."
    scope["row_values"].__doc__ = "The `Row` fields of a stored document, by name, in order."
    return scope["to_row"], scope["row_values"]


to_row, row_values = _compile_readers()
