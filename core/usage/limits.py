"""The limits figures of an integration: the one computation behind `get_limits_status` and the
console's dashboard.

`LimitFigures` (declared in core.readmodels) is a plain dataclass, no pydantic: the dashboard
paints from it before the facade (and pydantic) is imported; the facade turns the same figures
into a `LimitsStatusResult`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.readmodels import LimitFigures
from core.timeutil import from_us
from core.usage.pricing import NC_PER_CENT, nc_round_cents
from core.usage.store import UsageStore, period_keys

Doc = Mapping[str, Any]


def percent(used: int, limit: int) -> float:
    """`used` as a percentage of `limit`, 0.0 without a limit."""
    # used * 100 first: exact integers, so 1515 of 100000 is 1.515, not 1.5150000000000001
    return used * 100 / limit if limit else 0.0


def limit_figures(
    store: UsageStore, tenant_id: str, docs: Iterable[Doc], now_us: int
) -> dict[str, LimitFigures]:
    """The figures of each integration document (all of `tenant_id`) at `now_us`, by id.

    The period is each document's `budget_period` (default "month") holding `now_us`, in UTC:
    the calendar month, the day, or the week from Monday 00:00; the usage files are read once
    for all.
    """
    docs = list(docs)
    bounds = {}
    for kind in {_period(d) for d in docs}:
        start_us, end_us, kind_keys = period_keys(kind, now_us)
        bounds[kind] = (from_us(start_us), from_us(end_us), kind_keys)
    keys = {d["id"]: bounds[_period(d)][2] for d in docs}
    usage = store.totals_and_recent(tenant_id, list(keys), keys, now_us)
    out: dict[str, LimitFigures] = {}
    for doc in docs:
        iid = doc["id"]
        kind = _period(doc)
        start, end, _ = bounds[kind]
        (inp, output, cost_nc, requests, unpriced), recent = usage[iid]
        budget, tokens_limit, rpm = (
            doc["budget_limit_cents"],
            doc["token_limit_month"],
            doc["rate_limit_rpm"],
        )
        out[iid] = LimitFigures(
            integration_id=iid,
            budget_limit_cents=budget,
            budget_used_cents=nc_round_cents(cost_nc),
            budget_percent=percent(cost_nc, budget * NC_PER_CENT),
            token_limit_month=tokens_limit,
            tokens_used_month=inp + output,
            token_percent=percent(inp + output, tokens_limit),
            rate_limit_rpm=rpm,
            requests_this_minute=recent,
            rate_percent=percent(recent, rpm),
            period_start=start,
            period_end=end,
            requests_month=requests,
            unpriced_calls=unpriced,
            budget_period=kind,
        )
    return out


def _period(doc: Doc) -> str:
    return doc.get("budget_period") or "month"
