"""Usage and limits: recording, pricing, the month's totals, the limit decision, alerts.

The methods are synchronous; the facade runs them in a worker thread. Storage is in
`core.usage.store` (an fsync'd event log plus monthly rollups); prices come from
`core.usage.pricing`; every input check is in `core.validation`.

Rules worth knowing (see README, "Usage and limits"):
* Money is integer nano-cents inside, so fractional cents add up exactly; totals are rounded to
  whole cents half up (0.5 -> 1) only when reported.
* A call_id repeated for the same integration counts once. The dedupe set is the call_id index
  of the raw event log (core.usage.dedupe), kept `usage_retention_days` (default 7) full days
  after the day a call was *recorded*: a repeat within that window is a duplicate, also after a
  restart and across processes.
* A call counts in the budget period holding its time `at` (UTC): the calendar month, or the day
  or ISO week (Monday 00:00 on) of the integration's `budget_period`; the budget and the token
  limit (`token_limit_month`, its contract name) apply over that period. `at` defaults to now
  and may be at most 5 minutes in the future (clock skew between machines).
* Alerts fire at the integration's `alert_thresholds` (80 and 100 % by default), once per
  integration, period, limit and threshold; check_limits' `warned` stays at 80 % (the contract).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core import validation as v
from core.context import CoreContext
from core.enums import Decision, HealthState, IntegrationStatus
from core.models import (
    Alert,
    BatchResult,
    ImportReport,
    LimitDecision,
    LimitsStatusResult,
    UsageRecordResult,
)
from core.spend.reported import ReportedSpend
from core.timeutil import US_PER_S, budget_bounds, from_us, period_bounds, to_us
from core.usage.limits import REPORTED, limit_figures, percent, used
from core.usage.pricing import NC_PER_CENT, PriceTable, nc_to_cents
from core.usage.store import Event, Limits, UsageStore, open_usage_store, period_keys

WARN_PERCENT = 80


def _fmt_cents(nc: int) -> str:
    """Nano-cents as cents for a message: up to 4 decimals, trailing zeros dropped."""
    text = f"{Decimal(nc).scaleb(-9).quantize(Decimal('0.0001'), ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _limits_of(doc: Mapping[str, Any]) -> Limits:
    """What the alert check needs of an integration's document."""
    return Limits(
        name=doc["name"],
        budget_limit_cents=doc["budget_limit_cents"],
        token_limit_month=doc["token_limit_month"],
        budget_period=v.setting(doc, "budget_period"),
        alert_thresholds=v.setting(doc, "alert_thresholds"),
    )


# -- the service --------------------------------------------------------------------------------


class UsageService:
    """Its options (usage_retention_days, usage_checkpoint_events, usage_checkpoint_seconds) are
    declared in `core.options`.

    `store`: an already-open UsageStore of the same database (the console's dashboard opened it
    first); the process then keeps one in-memory view of the usage files, not two.
    """

    def __init__(
        self,
        ctx: CoreContext,
        store: UsageStore | None = None,
        reported: ReportedSpend | None = None,
    ) -> None:
        self.ctx = ctx
        # the providers' reported spend, the limits' other source (the dashboard's, when shared)
        self.reported = reported or ReportedSpend(ctx.side_path("spend"))
        opts = ctx.options
        if store is None:
            store = open_usage_store(
                ctx.side_path("usage"),
                clock=ctx.clock,
                retention_days=opts.usage_retention_days,
                durable=ctx.store.durable,
                checkpoint_events=opts.usage_checkpoint_events,
                checkpoint_seconds=opts.usage_checkpoint_seconds,
            )
        else:  # the facade's options still rule how this process writes
            store.retention_days = opts.usage_retention_days
            store.checkpoint_events = opts.usage_checkpoint_events
            store.checkpoint_seconds = opts.usage_checkpoint_seconds
        self.store = store
        self._prices: PriceTable | None = None
        self._prices_lock = threading.Lock()

    @property
    def prices(self) -> PriceTable:
        """Built on first use: it loads genai-prices (~200 ms), which reading never needs."""
        if self._prices is None:
            with self._prices_lock:
                if self._prices is None:
                    self._prices = PriceTable()
        return self._prices

    def _now_us(self) -> int:
        return to_us(self.ctx.clock())

    # -- recording ------------------------------------------------------------------------------

    def record_usage(
        self, tenant_id: str, integration_id: str, fields: Mapping[str, object]
    ) -> UsageRecordResult | None:
        """Record one call (`fields` as record_usage's keyword arguments). None when the
        integration does not exist (for this tenant)."""
        now_us = self._now_us()
        rec = v.UsageInput(integration_id, fields, now_us)
        doc = self.ctx.repo.get(tenant_id, integration_id)
        if doc is None:
            return None
        events, limits = self._price(tenant_id, [rec], {integration_id: doc})
        result = self.store.commit(tenant_id, events, limits)
        ev = events[0]
        return UsageRecordResult(
            accepted=not result.duplicate[0],
            duplicate=result.duplicate[0],
            cost_cents=nc_to_cents(ev.cost_nc or 0),
            priced=ev.cost_nc is not None,
            integration_id=integration_id,
            call_id=ev.call_id,
        )

    def record_usage_batch(self, tenant_id: str, records: object) -> BatchResult:
        """Record many calls as one durable frame: all of them are stored, or none.

        `records` is a list of mappings with the fields of `record_usage` plus `integration_id`.
        Any malformed record fails the whole batch with a ValidationError naming
        `records[i].field`, and nothing is stored. Records of an unknown integration and
        duplicates are skipped and listed by index.
        """
        recs = v.usage_batch(records, self._now_us())
        return self.record_checked(tenant_id, recs)[0]

    def record_checked(
        self, tenant_id: str, recs: Sequence[v.UsageInput]
    ) -> tuple[BatchResult, int]:
        """Store checked records (a batch, an import's chunk); the result, and the exact cost of
        what was accepted."""
        docs: dict[str, Mapping[str, Any] | None] = {}
        known: list[v.UsageInput] = []
        index: list[int] = []
        not_found: list[int] = []
        for i, rec in enumerate(recs):
            doc = docs.get(rec.iid, False)
            if doc is False:
                doc = docs[rec.iid] = self.ctx.repo.get(tenant_id, rec.iid)
            if doc is None:
                not_found.append(i)
            else:
                known.append(rec)
                index.append(i)
        found = {iid: doc for iid, doc in docs.items() if doc is not None}
        events, limits = self._price(tenant_id, known, found)
        result = self.store.commit(tenant_id, events, limits) if events else None
        duplicates: list[int] = []
        cost = unpriced = accepted = 0
        for j, ev in enumerate(events):
            if result is not None and result.duplicate[j]:
                duplicates.append(index[j])
                continue
            accepted += 1
            if ev.cost_nc is None:
                unpriced += 1
            else:
                cost += ev.cost_nc
        batch = BatchResult(
            accepted=accepted,
            duplicates=len(duplicates),
            not_found=len(not_found),
            unpriced=unpriced,
            cost_cents=nc_to_cents(cost),
            duplicate_indexes=duplicates,
            not_found_indexes=not_found,
            alerts=[self._alert(a) for a in (result.alerts if result else ())],
        )
        return batch, cost

    def _price(
        self,
        tenant_id: str,
        recs: Iterable[v.UsageInput],
        docs: Mapping[str, Mapping[str, Any]],
    ) -> tuple[list[Event], dict[str, Limits]]:
        providers = {
            iid: PriceTable.provider_id(doc["provider_type"], doc.get("config"))
            for iid, doc in docs.items()
        }
        cost_nc = None
        events = []
        for rec in recs:
            cost = rec.cost_nc
            if cost is None and providers[rec.iid] is not None:
                if cost_nc is None:
                    cost_nc = self.prices.cost_nc
                cost = cost_nc(
                    providers[rec.iid],
                    rec.model,
                    rec.inp,
                    rec.out,
                    rec.cache_read,
                    rec.cache_write,
                    rec.at_us,
                    rec.extra,
                )
            events.append(Event(rec.iid, rec.model, rec.at_us, rec.inp, rec.out, cost, rec.call_id))
        limits = {iid: _limits_of(doc) for iid, doc in docs.items()}
        return events, limits

    # -- reading --------------------------------------------------------------------------------

    def get_limits_status(self, tenant_id: str, integration_id: str) -> LimitsStatusResult | None:
        doc = self.ctx.repo.get(tenant_id, integration_id)
        if doc is None:
            return None
        figures = limit_figures(self.store, tenant_id, [doc], self._now_us(), self.reported)
        figures = figures[integration_id]
        return LimitsStatusResult(**figures.as_dict())

    def check_limits(
        self, tenant_id: str, integration_id: str, est_tokens: int, est_nc: int
    ) -> LimitDecision | None:
        """blocked > throttled > warned > allowed; the reasons are those of the decision.
        The estimates are checked (v.estimates): tokens and nano-cents."""
        doc = self.ctx.repo.get(tenant_id, integration_id)
        if doc is None:
            return None
        now_us = self._now_us()
        start_us, end_us, keys = period_keys(v.setting(doc, "budget_period"), now_us)
        inp, out, recorded_nc, _, _ = self.store.totals(tenant_id, integration_id, keys)
        start, end = from_us(start_us), from_us(end_us)
        spent = self.reported.period(tenant_id, [integration_id], start, end)
        use = used(doc, recorded_nc, inp + out, spent.get(integration_id))
        cost_nc, tokens = use.cost_nc, use.tokens
        budget_from = " (reported)" if use.budget_source == REPORTED else ""
        tokens_from = " (reported)" if use.tokens_source == REPORTED else ""
        budget, tokens_limit, rpm = (
            doc["budget_limit_cents"],
            doc["token_limit_month"],
            doc["rate_limit_rpm"],
        )
        cost_after = cost_nc + est_nc
        tokens_after = tokens + est_tokens
        budget_nc = budget * NC_PER_CENT

        def budget_reason(word: str) -> str:
            return (
                f"budget_limit_cents {word}: limit {budget} cents, used "
                f"{_fmt_cents(cost_nc)}{budget_from} + estimate {_fmt_cents(est_nc)} = "
                f"{_fmt_cents(cost_after)} cents ({percent(cost_after, budget_nc):.1f}%)"
            )

        def token_reason(word: str) -> str:
            return (
                f"token_limit_month {word}: limit {tokens_limit} tokens, used "
                f"{tokens}{tokens_from} + estimate {est_tokens} = {tokens_after} tokens "
                f"({percent(tokens_after, tokens_limit):.1f}%)"
            )

        blocked: list[str] = []
        status = doc["status"]
        if status == IntegrationStatus.DISABLED.value:
            blocked.append("status: the integration is disabled")
        elif status == IntegrationStatus.ERROR.value:
            blocked.append("status: the integration is in error (its credential is unusable)")
        if doc["health_state"] == HealthState.FAILING.value:
            why = doc.get("health_reason") or doc.get("health_message") or "last probe failed"
            blocked.append(f"health: failing ({why})")
        if budget and cost_after >= budget_nc:
            blocked.append(budget_reason("reached"))
        if tokens_limit and tokens_after >= tokens_limit:
            blocked.append(token_reason("reached"))
        if blocked:
            return LimitDecision(
                decision=Decision.BLOCKED, reasons=blocked, integration_id=integration_id
            )
        if rpm:
            count, frees_at = self.store.recent(tenant_id, integration_id, now_us, rpm)
            if count >= rpm and frees_at is not None:
                retry = max(frees_at - now_us, 0) / US_PER_S
                return LimitDecision(
                    decision=Decision.THROTTLED,
                    reasons=[
                        f"rate_limit_rpm reached: limit {rpm} requests per minute, "
                        f"{count} requests in the last 60 s"
                    ],
                    retry_after_s=retry,
                    integration_id=integration_id,
                )
        warned: list[str] = []
        if budget and cost_after * 100 >= WARN_PERCENT * budget_nc:
            warned.append(budget_reason(f"at {WARN_PERCENT}%"))
        if tokens_limit and tokens_after * 100 >= WARN_PERCENT * tokens_limit:
            warned.append(token_reason(f"at {WARN_PERCENT}%"))
        if warned:
            return LimitDecision(
                decision=Decision.WARNED, reasons=warned, integration_id=integration_id
            )
        return LimitDecision(decision=Decision.ALLOWED, integration_id=integration_id)

    # -- alerts ---------------------------------------------------------------------------------

    def raise_reported_alerts(self, tenant_id: str) -> list[Alert]:
        """The alerts the providers' reported spend brings (after a sync): each integration
        whose limits count the reported figure (`limits_source` reported, or max where it is the
        larger) gets the thresholds that figure reaches in its current period, once per period,
        kind and threshold whichever source reaches it first. Those raised, oldest first."""
        docs = [
            d
            for d in self.ctx.repo.tenant_docs(tenant_id)
            if (d["budget_limit_cents"] or d["token_limit_month"])
            and v.setting(d, "limits_source") != "recorded"
        ]
        if not docs:
            return []
        now_us = self._now_us()
        figures = limit_figures(self.store, tenant_id, docs, now_us, self.reported)
        wanted: dict[str, tuple[str, dict[str, int]]] = {}
        for doc in docs:
            f = figures[doc["id"]]
            used_now: dict[str, int] = {}
            if f.budget_source == REPORTED and f.reported_cents is not None:
                used_now["budget"] = round(f.reported_cents * NC_PER_CENT)
            if f.tokens_source == REPORTED and f.reported_tokens is not None:
                used_now["tokens"] = f.reported_tokens
            if used_now:
                period = budget_bounds(now_us, v.setting(doc, "budget_period"))[2]
                wanted[doc["id"]] = (period, used_now)
        if not wanted:
            return []
        limits = {iid: _limits_of(doc) for doc in docs if (iid := doc["id"]) in wanted}
        raised = self.store.raise_alerts(tenant_id, wanted, limits, REPORTED)
        return [self._alert(a) for a in raised]

    def get_alerts(self, tenant_id: str, integration_id: str | None, limit: int) -> list[Alert]:
        """The tenant's alerts, newest first (also those of deleted integrations)."""
        return [self._alert(a) for a in self.store.alerts(tenant_id, integration_id, limit)]

    @staticmethod
    def _alert(raw: Mapping[str, Any]) -> Alert:
        period = raw["period"]
        start, end = period_bounds(period)
        unit = "cents" if raw["kind"] == "budget" else "tokens"
        name = raw.get("integration_name") or raw["integration_id"]
        every = "monthly" if len(period) == 7 else "weekly" if period[5] == "W" else "daily"
        what = "budget" if raw["kind"] == "budget" else f"{every} token limit"
        return Alert(
            id=raw["id"],
            integration_id=raw["integration_id"],
            integration_name=raw.get("integration_name"),
            kind=raw["kind"],
            threshold=raw["threshold"],
            limit=raw["limit"],
            used=int(raw["used"]),
            percent=raw["percent"],
            period_start=start,
            period_end=end,
            period=period,
            created_at=from_us(raw["created_at_us"]).astimezone(UTC),
            message=(
                f"{name} reached {raw['threshold']}% of its {what} for {raw['period']}: "
                f"{int(raw['used'])} of {raw['limit']} {unit}"
                + (" (reported by the provider)" if raw.get("source") == REPORTED else "")
            ),
            source=REPORTED if raw.get("source") == REPORTED else "recorded",
        )

    # -- import ---------------------------------------------------------------------------------

    def import_jsonl(
        self, tenant_id: str, source: object, integration: str | None = None
    ) -> ImportReport:
        """Import a JSON Lines usage file (a path or a text stream); see `core.usage.importer`.
        `integration`: the integration of lines that name none."""
        from core.usage.importer import import_lines

        return import_lines(self, tenant_id, source, integration)

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        self.store.close()
        self.reported.close()
