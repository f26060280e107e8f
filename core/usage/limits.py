"""The limits figures of an integration: the one computation behind `get_limits_status` and the
console's dashboard.

`LimitFigures` (declared in core.readmodels) is a plain dataclass, no pydantic: the dashboard
paints from it before the facade (and pydantic) is imported; the facade turns the same figures
into a `LimitsStatusResult`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.readmodels import LimitFigures
from core.timeutil import from_iso, from_us
from core.usage.pricing import NC_PER_CENT, nc_round_cents
from core.usage.store import UsageStore, period_keys

if TYPE_CHECKING:
    from core.spend.reported import Reported, ReportedSpend

Doc = Mapping[str, Any]
RECORDED, REPORTED, MAX = "recorded", "reported", "max"
LIMITS_SOURCES = (RECORDED, REPORTED, MAX)


@dataclass(frozen=True, slots=True)
class Used:
    """What the limits count for an integration: cost (nano-cents) and tokens, each from the
    source its `limits_source` picks."""

    cost_nc: int
    tokens: int
    budget_source: str
    tokens_source: str


def used(doc: Doc, cost_nc: int, tokens: int, reported: Reported | None) -> Used:
    """`recorded` counts what byok recorded, `reported` what the provider reported (0 before any
    sync covers the period), `max` the larger of the two, each of cost and tokens on its own:
    neither a call the SDK did not record nor a provider's reporting lag hides spend. A tie is
    recorded's."""
    source = doc.get("limits_source") or MAX
    if source == RECORDED or (source == MAX and reported is None):
        return Used(cost_nc, tokens, RECORDED, RECORDED)
    rep_nc = round(reported.cents * NC_PER_CENT) if reported is not None else 0
    rep_tokens = reported.tokens if reported is not None else 0
    if source == REPORTED:
        return Used(rep_nc, rep_tokens, REPORTED, REPORTED)
    budget = (rep_nc, REPORTED) if rep_nc > cost_nc else (cost_nc, RECORDED)
    count = (rep_tokens, REPORTED) if rep_tokens > tokens else (tokens, RECORDED)
    return Used(budget[0], count[0], budget[1], count[1])


def percent(used: int, limit: int) -> float:
    """`used` as a percentage of `limit`, 0.0 without a limit."""
    # used * 100 first: exact integers, so 1515 of 100000 is 1.515, not 1.5150000000000001
    return used * 100 / limit if limit else 0.0


def limit_figures(
    store: UsageStore,
    tenant_id: str,
    docs: Iterable[Doc],
    now_us: int,
    reported: ReportedSpend | None = None,
) -> dict[str, LimitFigures]:
    """The figures of each integration document (all of `tenant_id`) at `now_us`, by id.

    The period is each document's `budget_period` (default "month") holding `now_us`, in UTC:
    the calendar month, the day, or the week from Monday 00:00; the usage files are read once
    for all, the reported spend (when `reported` is given) once per account and period.
    """
    docs = list(docs)
    bounds = {}
    for kind in {_period(d) for d in docs}:
        start_us, end_us, kind_keys = period_keys(kind, now_us)
        bounds[kind] = (from_us(start_us), from_us(end_us), kind_keys)
    keys = {d["id"]: bounds[_period(d)][2] for d in docs}
    usage = store.totals_and_recent(tenant_id, list(keys), keys, now_us)
    spent: dict[str, Any] = {}
    if reported is not None:
        for kind, (start, end, _) in bounds.items():
            ids = [d["id"] for d in docs if _period(d) == kind]
            spent.update(reported.period(tenant_id, ids, start, end))
    out: dict[str, LimitFigures] = {}
    for doc in docs:
        iid = doc["id"]
        kind = _period(doc)
        start, end, _ = bounds[kind]
        (inp, output, cost_nc, requests, unpriced), recent = usage[iid]
        rep = spent.get(iid)
        use = used(doc, cost_nc, inp + output, rep)
        budget, tokens_limit, rpm = (
            doc["budget_limit_cents"],
            doc["token_limit_month"],
            doc["rate_limit_rpm"],
        )
        out[iid] = LimitFigures(
            integration_id=iid,
            budget_limit_cents=budget,
            budget_used_cents=nc_round_cents(use.cost_nc),
            budget_percent=percent(use.cost_nc, budget * NC_PER_CENT),
            token_limit_month=tokens_limit,
            tokens_used_month=use.tokens,
            token_percent=percent(use.tokens, tokens_limit),
            rate_limit_rpm=rpm,
            requests_this_minute=recent,
            rate_percent=percent(recent, rpm),
            period_start=start,
            period_end=end,
            requests_month=requests,
            unpriced_calls=unpriced,
            limits_source=doc.get("limits_source") or MAX,
            budget_source=use.budget_source,
            tokens_source=use.tokens_source,
            recorded_cents=nc_round_cents(cost_nc),
            recorded_tokens=inp + output,
            reported_cents=rep.cents if rep is not None else None,
            reported_tokens=rep.tokens if rep is not None else None,
            reported_synced_at=from_iso(rep.synced_at) if rep is not None else None,
            budget_period=kind,
        )
    return out


def _period(doc: Doc) -> str:
    return doc.get("budget_period") or "month"
