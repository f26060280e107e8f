"""Usage and limits: recording, pricing, the month's totals, the limit decision, alerts.

The methods are synchronous; the facade runs them in a worker thread. Storage is in
`core.usage.store` (an fsync'd event log plus monthly rollups); prices come from
`core.usage.pricing`.

Rules worth knowing (see README, "Usage and limits"):
* Money is integer nano-cents inside, so fractional cents add up exactly; totals are rounded to
  whole cents half up (0.5 -> 1) only when reported.
* A call_id repeated for the same integration counts once. The dedupe set is the raw event log,
  kept `usage_retention_days` (default 7) full days after the day a call was *recorded*: a
  repeat within that window is a duplicate, also after a restart and across processes.
* The period is the calendar month of the call's time `at` (UTC); `at` defaults to now and may be
  at most 5 minutes in the future (clock skew between machines).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from core import validation as v
from core.context import CoreContext
from core.enums import HealthState, IntegrationStatus
from core.errors import ValidationError
from core.models import (
    Alert,
    BatchResult,
    Decision,
    ImportReport,
    LimitDecision,
    LimitsStatusResult,
    UsageRecordResult,
)
from core.usage.limits import limit_figures, percent
from core.usage.pricing import NC_PER_CENT, PriceTable, nc_to_cents
from core.usage.store import (
    Event,
    Limits,
    UsageStore,
    from_us,
    month_bounds,
    open_usage_store,
    period_bounds,
    to_us,
)

MAX_TOKENS = v.MAX_LIMIT
MAX_COST_CENTS = v.MAX_LIMIT
MAX_CALL_ID = 256
MAX_BATCH = 100_000
FUTURE_SKEW_US = 5 * 60 * 1_000_000
WARN_PERCENT = 80
RECORD_FIELDS = frozenset(
    {
        "integration_id",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_cents",
        "call_id",
        "at",
        "cache_read_tokens",
        "cache_write_tokens",
    }
)
_TOKEN_MSG = "must be a whole number >= 0"
_NC = Decimal(NC_PER_CENT)


# -- input checks (fast: they run for every event of a batch) -----------------------------------


def _tokens(value: object, field: str) -> int:
    if type(value) is int:  # the common case; type() also keeps bool out
        if 0 <= value <= MAX_TOKENS:
            return value
    elif isinstance(value, int) and not isinstance(value, bool):
        value = int(value)
    else:
        raise ValidationError(_TOKEN_MSG, field)
    if value < 0:
        raise ValidationError("cannot be negative", field)
    if value > MAX_TOKENS:
        raise ValidationError(f"must be at most {MAX_TOKENS}", field)
    return value


def cents_to_nc(value: object, field: str = "cost_cents") -> int:
    """A cost in cents (int, float or Decimal) as exact nano-cents, rounded half up.

    A float is read as the decimal it prints as (0.1 is 0.1, not 0.1000000000000000055...).
    """
    if isinstance(value, bool):
        raise ValidationError("must be a number of cents >= 0", field)
    if type(value) is int:
        if 0 <= value <= MAX_COST_CENTS:
            return value * NC_PER_CENT
        raise ValidationError(f"must be between 0 and {MAX_COST_CENTS} cents", field)
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValidationError("must be a finite number of cents", field)
            number = Decimal(repr(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        else:
            raise ValidationError("must be a number of cents >= 0", field)
    except InvalidOperation:
        raise ValidationError("must be a number of cents >= 0", field) from None
    if not number.is_finite():
        raise ValidationError("must be a finite number of cents", field)
    if number < 0:
        raise ValidationError("cannot be negative", field)
    if number > MAX_COST_CENTS:
        raise ValidationError(f"must be at most {MAX_COST_CENTS} cents", field)
    return int((number * _NC).to_integral_value(ROUND_HALF_UP))


def _model(value: object) -> str:
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) <= v.MAX_MODEL and text.isprintable():
            return text
    raise ValidationError(
        f"must be the model name: 1 to {v.MAX_MODEL} printable characters", "model"
    )


def _call_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) <= MAX_CALL_ID and text.isprintable():
            return text
    raise ValidationError(
        f"must be None or 1 to {MAX_CALL_ID} printable characters", "call_id"
    )


def parse_time(value: object, field: str = "at") -> int:
    """An aware datetime, ISO-8601 text with an offset (or Z), or Unix seconds, as µs."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError("must be timezone-aware (UTC)", field)
        return to_us(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                "must be an ISO-8601 time such as 2026-01-31T12:00:00Z", field
            ) from None
        if moment.tzinfo is None:
            raise ValidationError("must carry a UTC offset, e.g. 2026-01-31T12:00:00Z", field)
        return to_us(moment)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < 253402300800:  # year 1970..9999
            raise ValidationError("must be Unix seconds between 1970 and 9999", field)
        return round(value * 1_000_000) if isinstance(value, float) else value * 1_000_000
    raise ValidationError("must be a datetime, ISO-8601 text or Unix seconds", field)


class _Rec:
    """One checked record, before pricing."""

    __slots__ = ("at_us", "cache_read", "cache_write", "call_id", "cost_nc", "iid", "inp",
                 "model", "out")

    def __init__(self, iid: str, fields: Mapping[str, Any], now_us: int) -> None:
        errors: dict[str, str] = {}
        self.iid = iid
        self.model = self.call_id = None  # type: ignore[assignment]
        self.inp = self.out = self.cache_read = self.cache_write = 0
        self.cost_nc: int | None = None
        self.at_us = now_us
        for name, check in _CHECKS:
            if name not in fields:
                continue
            try:
                check(self, fields[name])
            except ValidationError as exc:
                errors.update(exc.errors)
        for name in ("model", "input_tokens", "output_tokens"):
            if fields.get(name) is None:
                errors[name] = "is required"
        if not errors and self.cache_read + self.cache_write > self.inp:
            errors["cache_read_tokens"] = (
                "cache tokens are part of input_tokens and cannot exceed it"
            )
        if not errors and self.at_us > now_us + FUTURE_SKEW_US:
            errors["at"] = "is more than 5 minutes in the future"
        if errors:
            raise ValidationError(errors)


def _set(attr: str, fn: Any) -> Any:
    def check(rec: _Rec, value: object) -> None:
        if value is not None:  # None keeps the default (no cost given, `at` = now)
            setattr(rec, attr, fn(value))

    return check


_CHECKS: tuple[tuple[str, Any], ...] = (
    ("model", _set("model", _model)),
    ("input_tokens", _set("inp", lambda x: _tokens(x, "input_tokens"))),
    ("output_tokens", _set("out", lambda x: _tokens(x, "output_tokens"))),
    ("cache_read_tokens", _set("cache_read", lambda x: _tokens(x, "cache_read_tokens"))),
    ("cache_write_tokens", _set("cache_write", lambda x: _tokens(x, "cache_write_tokens"))),
    ("cost_cents", _set("cost_nc", cents_to_nc)),
    ("call_id", _set("call_id", _call_id)),
    ("at", _set("at_us", parse_time)),
)


def _positive_int_option(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("must be a whole number >= 1", name)
    return value


def _fmt_cents(nc: int) -> str:
    """Nano-cents as cents for a message: up to 4 decimals, trailing zeros dropped."""
    text = f"{Decimal(nc).scaleb(-9).quantize(Decimal('0.0001'), ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- the service --------------------------------------------------------------------------------


class UsageService:
    """Facade options: `usage_retention_days` (7: raw events and the dedupe window),
    `usage_checkpoint_events` (50,000) and `usage_checkpoint_seconds` (5.0): how often the log is
    folded into the rollup file.

    `store`: an already-open UsageStore of the same database (the console's dashboard opened it
    first); the process then keeps one in-memory view of the usage files, not two.
    """

    def __init__(self, ctx: CoreContext, store: UsageStore | None = None) -> None:
        self.ctx = ctx
        options = ctx.options
        self.retention_days = _positive_int_option(options, "usage_retention_days", 7)
        seconds = options.get("usage_checkpoint_seconds", 5.0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValidationError("must be a number of seconds >= 0", "usage_checkpoint_seconds")
        events = _positive_int_option(options, "usage_checkpoint_events", 50_000)
        if store is None:
            store = open_usage_store(
                ctx.side_path("usage"),
                clock=ctx.clock,
                retention_days=self.retention_days,
                durable=ctx.store.durable,
                checkpoint_events=events,
                checkpoint_seconds=float(seconds),
            )
        else:  # the facade's options still rule how this process writes
            store.retention_days = self.retention_days
            store.checkpoint_events = events
            store.checkpoint_seconds = float(seconds)
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
        self,
        tenant_id: str,
        integration_id: str,
        *,
        model: object = None,
        input_tokens: object = None,
        output_tokens: object = None,
        cost_cents: object = None,
        call_id: object = None,
        at: object = None,
        cache_read_tokens: object = 0,
        cache_write_tokens: object = 0,
    ) -> UsageRecordResult | None:
        """Record one call. None when the integration does not exist (for this tenant)."""
        fields = {
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_cents": cost_cents,
            "call_id": call_id,
            "at": at,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
        }
        now_us = self._now_us()
        rec = _Rec(integration_id, fields, now_us)
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
        recs = self._parse_batch(records)
        return self._record(tenant_id, recs)[0]

    def _parse_batch(self, records: object) -> list[_Rec]:
        if isinstance(records, str | bytes | Mapping) or not isinstance(records, Sequence):
            raise ValidationError("must be a list of records (mappings)", "records")
        if len(records) > MAX_BATCH:
            raise ValidationError(
                f"has {len(records)} records; send at most {MAX_BATCH} per batch", "records"
            )
        now_us = self._now_us()
        out: list[_Rec] = []
        errors: dict[str, str] = {}
        for i, item in enumerate(records):
            try:
                if not isinstance(item, Mapping):
                    raise ValidationError("must be a mapping of record fields", "record")
                unknown = [str(k) for k in item if k not in RECORD_FIELDS]
                if unknown:
                    raise ValidationError(
                        f"unknown field(s) {', '.join(sorted(unknown))}", "record"
                    )
                iid = v.integration_id(item.get("integration_id"))
                out.append(_Rec(iid, item, now_us))
            except ValidationError as exc:
                for name, message in exc.errors.items():
                    errors[f"records[{i}].{name}" if name != "record" else f"records[{i}]"] = (
                        message
                    )
                if len(errors) >= 20:
                    errors["records"] = "stopped after 20 errors"
                    break
        if errors:
            raise ValidationError(errors)
        return out

    def _record(self, tenant_id: str, recs: Sequence[_Rec]) -> tuple[BatchResult, int]:
        """Store checked records; the result, and the exact cost of what was accepted."""
        docs: dict[str, Mapping[str, Any] | None] = {}
        known: list[_Rec] = []
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
        recs: Iterable[_Rec],
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
                )
            events.append(
                Event(rec.iid, rec.model, rec.at_us, rec.inp, rec.out, cost, rec.call_id)
            )
        limits = {
            iid: Limits(
                name=doc["name"],
                budget_limit_cents=doc["budget_limit_cents"],
                token_limit_month=doc["token_limit_month"],
            )
            for iid, doc in docs.items()
        }
        return events, limits

    # -- reading --------------------------------------------------------------------------------

    def get_limits_status(self, tenant_id: str, integration_id: str) -> LimitsStatusResult | None:
        doc = self.ctx.repo.get(tenant_id, integration_id)
        if doc is None:
            return None
        figures = limit_figures(self.store, tenant_id, [doc], self._now_us())[integration_id]
        return LimitsStatusResult(**figures.as_dict())

    def check_limits(
        self,
        tenant_id: str,
        integration_id: str,
        *,
        estimated_tokens: object = 0,
        estimated_cost_cents: object = 0,
    ) -> LimitDecision | None:
        """blocked > throttled > warned > allowed; the reasons are those of the decision."""
        errors: dict[str, str] = {}
        est_tokens = est_nc = 0
        try:
            est_tokens = _tokens(estimated_tokens, "estimated_tokens")
        except ValidationError as exc:
            errors.update(exc.errors)
        try:
            est_nc = cents_to_nc(estimated_cost_cents, "estimated_cost_cents")
        except ValidationError as exc:
            errors.update(exc.errors)
        if errors:
            raise ValidationError(errors)
        doc = self.ctx.repo.get(tenant_id, integration_id)
        if doc is None:
            return None
        now_us = self._now_us()
        _, _, period = month_bounds(now_us)
        inp, out, cost_nc, _, _ = self.store.totals(tenant_id, integration_id, period)
        budget, tokens_limit, rpm = (
            doc["budget_limit_cents"],
            doc["token_limit_month"],
            doc["rate_limit_rpm"],
        )
        cost_after = cost_nc + est_nc
        tokens_after = inp + out + est_tokens
        budget_nc = budget * NC_PER_CENT

        def budget_reason(word: str) -> str:
            return (
                f"budget_limit_cents {word}: limit {budget} cents, used "
                f"{_fmt_cents(cost_nc)} + estimate {_fmt_cents(est_nc)} = "
                f"{_fmt_cents(cost_after)} cents ({percent(cost_after, budget_nc):.1f}%)"
            )

        def token_reason(word: str) -> str:
            return (
                f"token_limit_month {word}: limit {tokens_limit} tokens, used {inp + out} + "
                f"estimate {est_tokens} = {tokens_after} tokens "
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
                retry = max(frees_at - now_us, 0) / 1_000_000
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

    def get_alerts(
        self, tenant_id: str, integration_id: str | None = None, *, limit: int = 100
    ) -> list[Alert]:
        """The tenant's alerts, newest first (also those of deleted integrations)."""
        iid = v.integration_id(integration_id) if integration_id is not None else None
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValidationError("must be a whole number from 1 to 1000", "limit")
        return [self._alert(a) for a in self.store.alerts(tenant_id, iid, limit)]

    @staticmethod
    def _alert(raw: Mapping[str, Any]) -> Alert:
        start, end = period_bounds(raw["period"])
        unit = "cents" if raw["kind"] == "budget" else "tokens"
        name = raw.get("integration_name") or raw["integration_id"]
        what = "budget" if raw["kind"] == "budget" else "monthly token limit"
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
            created_at=from_us(raw["created_at_us"]).astimezone(UTC),
            message=(
                f"{name} reached {raw['threshold']}% of its {what} for {raw['period']}: "
                f"{int(raw['used'])} of {raw['limit']} {unit}"
            ),
        )

    # -- import ---------------------------------------------------------------------------------

    def import_jsonl(self, tenant_id: str, source: object) -> ImportReport:
        """Import a JSON Lines usage file (a path or a text stream); see `core.usage.importer`."""
        from core.usage.importer import import_lines

        return import_lines(self, tenant_id, source)

    def record_checked(self, tenant_id: str, recs: Sequence[_Rec]) -> tuple[BatchResult, int]:
        """Store records already checked by the caller (the importer)."""
        return self._record(tenant_id, recs)

    def make_record(self, integration_id: str, fields: Mapping[str, Any], now_us: int) -> _Rec:
        return _Rec(integration_id, fields, now_us)

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        self.store.close()

