"""The facade: the one entry point that the console, the CLI, scripts and tests call.

Every method is async, validates its input first, and runs file I/O in a worker thread so that an
fsync never stalls the caller's event loop. Results are pydantic models; "not found" is `None`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from core import validation as v
from core.context import CoreContext
from core.enums import Decision, IntegrationStatus, ProviderType
from core.errors import ValidationError
from core.health.service import HealthService
from core.integrations.credentials import Vault
from core.models import (
    Alert,
    AlertDelivery,
    BatchResult,
    HealthCheckResult,
    HealthLogEntry,
    HealthStatusResult,
    ImportReport,
    IntegrationDeleteResult,
    IntegrationDetailResult,
    IntegrationLifecycleResult,
    IntegrationListResult,
    LimitDecision,
    LimitsStatusResult,
    UsageRecordResult,
    WatchAlert,
)
from core.options import Options
from core.readside import Dashboard
from core.results import to_detail, to_health_status, to_summary
from core.usage.service import UsageService

if TYPE_CHECKING:
    from core.spend.service import SpendService
    from core.watch.state import Tables

P = ParamSpec("P")
T = TypeVar("T")
CHECK_MANY_OPTIONS = frozenset(
    {"include_disabled", "stale_after_s", "concurrency", "deep", "integration_ids"}
)


class IntegrationsFacade:
    """Unified facade for LLM integration management, scoped by tenant on every call.

    `options` are those of `core.options.Options` (clock, environ, durable, create, master_key,
    the probes' timeouts and concurrency, the health log's and the usage log's retention, ...),
    each checked here: a bad value or an unknown name is a ValidationError.
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None, **options: Any) -> None:
        opts = Options.from_kwargs(**options)  # before any file is created
        dashboard = Dashboard(
            db_path,
            clock=opts.clock,
            environ=opts.environ,
            durable=opts.durable,
            create=opts.create,
        )
        self._assemble(dashboard, opts)

    @classmethod
    def from_dashboard(cls, dashboard: Dashboard, **options: Any) -> IntegrationsFacade:
        """A facade over an open Dashboard: the same files, already read, not opened twice.

        The console paints from a Dashboard before pydantic is even imported, then builds its
        facade with this. Both hold the same AtomicJSONStorage and UsageStore objects, so each
        sees the other's writes. The database path, `clock`, `environ`, `durable` and `create` are
        the dashboard's (passing them is a TypeError); the other options are as for the constructor.
        Closing either closes the shared files.
        """
        taken = sorted({"clock", "environ", "durable", "create", "db_path"} & options.keys())
        if taken:
            raise TypeError(f"from_dashboard takes these from the dashboard: {', '.join(taken)}")
        opts = replace(
            Options.from_kwargs(**options),
            clock=dashboard.clock,
            environ=dashboard.environ,
            durable=dashboard.store.durable,
        )
        self = cls.__new__(cls)
        self._assemble(dashboard, opts)
        return self

    def _assemble(self, dashboard: Dashboard, options: Options) -> None:
        repo = dashboard.repo
        if options.master_key is not None:
            # A dashboard never seals or opens a secret, so its vault can give way to this one.
            repo.vault = Vault(master_key=options.master_key, environ=dashboard.environ)
        self._ctx = CoreContext(
            db_path=dashboard.db_path,
            store=dashboard.store,
            vault=repo.vault,
            clock=dashboard.clock,
            environ=dashboard.environ,
            repo=repo,
            options=options,
        )
        self._repo = repo
        self._dashboard = dashboard
        self._health = HealthService(self._ctx)
        self._usage = UsageService(self._ctx, dashboard.usage, dashboard.reported)
        self._spend: SpendService | None = None

    @property
    def dashboard(self) -> Dashboard:
        """This facade's read side for the console (rows and limits without pydantic results),
        over the facade's own store, repo and usage store: nothing is read twice."""
        return self._dashboard

    @property
    def db_path(self) -> Path:
        return self._ctx.db_path

    @property
    def context(self) -> CoreContext:
        return self._ctx

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _read(
        self, tenant_id: str, integration_id: str, result: Callable[[Mapping[str, Any]], T]
    ) -> T | None:
        """One integration's stored document as a result, or None when not found."""
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        doc = await self._run(self._repo.get, tenant, iid)
        return result(doc) if doc is not None else None

    # -- integrations ---------------------------------------------------------------------------

    async def list_integrations(
        self,
        tenant_id: str,
        *,
        status: IntegrationStatus | str | None = None,
        provider_type: ProviderType | str | None = None,
        search: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> IntegrationListResult:
        tenant = v.tenant(tenant_id)
        state = v.status(status) if status is not None else None
        kind = v.provider(provider_type) if provider_type is not None else None
        needle = v.search(search)
        offset, limit = v.page(offset, limit)
        docs = await self._run(
            self._repo.find, tenant, status=state, provider_type=kind, search=needle
        )
        items = [to_summary(doc) for doc in docs[offset : offset + limit]]
        return IntegrationListResult(items=items, total=len(docs))

    async def get_integration(
        self, tenant_id: str, integration_id: str
    ) -> IntegrationDetailResult | None:
        return await self._read(tenant_id, integration_id, to_detail)

    async def resolve_integration(self, tenant_id: str, ref: str) -> IntegrationDetailResult | None:
        """The integration a person names: by id, name (case-insensitive) or a unique start of
        its id (6+ hex digits). None when nothing matches; ValidationError (field `ref`) when the
        start fits several ids."""
        tenant = v.tenant(tenant_id)
        if not isinstance(ref, str):
            raise ValidationError("must be a string", "ref")
        doc = await self._run(self._repo.resolve, tenant, ref)
        return to_detail(doc) if doc is not None else None

    async def create_integration(
        self,
        tenant_id: str,
        *,
        name: str,
        provider_type: ProviderType | str,
        credential: str = "",
        default_model: str | None = None,
        config: dict[str, Any] | None = None,
        budget_limit_cents: int = 0,
        token_limit_month: int = 0,
        rate_limit_rpm: int = 0,
        budget_period: str = "month",
        alert_thresholds: list[int] | None = None,
        created_by: str | None = None,
        limits_source: str = "max",
    ) -> IntegrationDetailResult:
        tenant = v.tenant(tenant_id)
        doc = await self._run(
            self._repo.create,
            tenant,
            name=name,
            provider_type=provider_type,
            credential=credential,
            default_model=default_model,
            config=config,
            budget_limit_cents=budget_limit_cents,
            token_limit_month=token_limit_month,
            rate_limit_rpm=rate_limit_rpm,
            limits_source=limits_source,
            budget_period=budget_period,
            alert_thresholds=[80, 100] if alert_thresholds is None else alert_thresholds,
            created_by=created_by,
        )
        return to_detail(doc)

    async def create_integrations(
        self, tenant_id: str, items: list[dict[str, Any]]
    ) -> list[IntegrationDetailResult]:
        """Create many (same fields as create_integration) in one all-or-nothing durable commit.

        A ValidationError names fields as `items[3].name`; a clash raises DuplicateNameError.
        """
        tenant = v.tenant(tenant_id)
        docs = await self._run(self._repo.create_many, tenant, v.items(items))
        return [to_detail(doc) for doc in docs]

    async def update_integration(
        self,
        tenant_id: str,
        integration_id: str,
        *,
        expected: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> IntegrationDetailResult | None:
        """A partial update, read-modify-written under the store's lock. Besides the contract's
        fields, `config_patch` merges settings into the stored config (None removes one);
        `expected` maps fields (and `config.KEY`) to the values seen when the edit began, and
        refuses the update (ValidationError on that field) when someone changed one since."""
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        doc = await self._run(self._repo.update, tenant, iid, fields, expected)
        return to_detail(doc) if doc is not None else None

    async def delete_integration(
        self, tenant_id: str, integration_id: str
    ) -> IntegrationDeleteResult:
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        deleted = await self._run(self._repo.delete, tenant, iid)
        if deleted:
            await self._run(self._health.models.forget, iid)
        return IntegrationDeleteResult(deleted=deleted, integration_id=iid)

    async def enable_integration(
        self, tenant_id: str, integration_id: str
    ) -> IntegrationLifecycleResult | None:
        return await self._lifecycle(tenant_id, integration_id, IntegrationStatus.ENABLED)

    async def disable_integration(
        self, tenant_id: str, integration_id: str
    ) -> IntegrationLifecycleResult | None:
        return await self._lifecycle(tenant_id, integration_id, IntegrationStatus.DISABLED)

    async def _lifecycle(
        self, tenant_id: str, integration_id: str, target: IntegrationStatus
    ) -> IntegrationLifecycleResult | None:
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        outcome = await self._run(self._repo.set_status, tenant, iid, target)
        if outcome is None:
            return None
        doc, message = outcome
        return IntegrationLifecycleResult(integration_id=iid, status=doc["status"], message=message)

    # -- health ---------------------------------------------------------------------------------

    async def get_models(self, tenant_id: str, integration_id: str) -> list[str]:
        """The models the provider listed at this integration's last successful probe, by any
        process (sorted; [] before one). The console's form offers them as a select."""
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        return await self._run(self._health.models.get, tenant, iid)

    async def get_health_status(
        self, tenant_id: str, integration_id: str
    ) -> HealthStatusResult | None:
        """The stored state; never touches the network."""
        return await self._read(tenant_id, integration_id, to_health_status)

    async def test_credentials(
        self, tenant_id: str, integration_id: str, **options: Any
    ) -> HealthCheckResult | None:
        """Probe now (`deep=True`: also a 1-token completion on default_model)."""
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        v.known(options, {"deep"}, "options", "option")
        return await self._health.test_credentials(tenant, iid, deep=options.get("deep", False))

    def check_many(self, tenant_id: str, **options: Any) -> AsyncIterator[HealthCheckResult]:
        """Probe many integrations at once, yielding each result as it completes.

        Options: include_disabled=False (enabled only), stale_after_s=None (only those not
        checked for that long), concurrency=None (the probe_concurrency option, 50), deep=False,
        integration_ids=None (exactly these, disabled ones too; unknown ids are skipped).
        """
        tenant = v.tenant(tenant_id)
        v.known(options, CHECK_MANY_OPTIONS, "options", "option")
        return self._health.check_many(tenant, **options)

    async def get_health_log(
        self, tenant_id: str, integration_id: str | None = None, *, limit: int = 100
    ) -> list[HealthLogEntry]:
        """The health log, newest first; a deleted integration's history stays readable."""
        tenant = v.tenant(tenant_id)
        iid = v.integration_id(integration_id) if integration_id is not None else None
        most = v.read_limit(limit, v.MAX_LOG_READ)
        return await self._run(self._health.log.read, tenant, iid, most)

    # -- usage and limits -----------------------------------------------------------------------

    async def record_usage(
        self,
        tenant_id: str,
        integration_id: str,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cost_cents: float | None = None,
        call_id: str | None = None,
        at: datetime | str | None = None,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> UsageRecordResult | None:
        """Record one call (durable when this returns). See docs/api.md, "Usage and limits"."""
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
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
        return await self._run(self._usage.record_usage, tenant, iid, fields)

    async def record_usage_batch(
        self, tenant_id: str, records: Sequence[Mapping[str, Any]]
    ) -> BatchResult:
        """Record many calls at once, all or nothing, idempotent by call_id."""
        return await self._run(self._usage.record_usage_batch, v.tenant(tenant_id), records)

    async def import_usage_jsonl(
        self,
        tenant_id: str,
        source: str | os.PathLike[str] | Iterable[str],
        *,
        integration: str | None = None,
    ) -> ImportReport:
        """Import a JSON Lines usage file (path or text stream); bad lines are reported.
        `integration` (a name or id) takes the lines that name none: a raw response log."""
        return await self._run(
            self._usage.import_jsonl, v.tenant(tenant_id), source, integration
        )

    async def get_limits_status(
        self, tenant_id: str, integration_id: str
    ) -> LimitsStatusResult | None:
        """Usage in the integration's current budget period (its `budget_period`: the UTC
        calendar month by default, else the UTC day or the week from Monday 00:00)."""
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        return await self._run(self._usage.get_limits_status, tenant, iid)

    async def check_limits(
        self,
        tenant_id: str,
        integration_id: str,
        *,
        estimated_tokens: int = 0,
        estimated_cost_cents: float = 0,
    ) -> LimitDecision | None:
        """The contract's decision over the integration's budget period; `warned` at 80 %."""
        tenant, iid = v.tenant(tenant_id), v.integration_id(integration_id)
        tokens, nc = v.estimates(estimated_tokens, estimated_cost_cents)
        return await self._run(self._usage.check_limits, tenant, iid, tokens, nc)

    async def limit_decisions(
        self, tenant_id: str, integration_ids: Iterable[str]
    ) -> dict[str, Decision]:
        """`check_limits` without estimates for each id, in one hop to a thread (a watcher's
        metrics, every integration each round). Ids of no integration are left out."""
        tenant = v.tenant(tenant_id)
        ids = [v.integration_id(iid) for iid in integration_ids]

        def decide() -> dict[str, Decision]:
            out = {}
            for iid in ids:
                decision = self._usage.check_limits(tenant, iid, 0, 0)
                if decision is not None:
                    out[iid] = decision.decision
            return out

        return await self._run(decide)

    async def get_alerts(
        self, tenant_id: str, integration_id: str | None = None, *, limit: int = 100
    ) -> list[Alert]:
        """Usage alerts (each integration's alert_thresholds of a budget or token limit, 80%/100%
        by default), newest first; also those of
        deleted integrations."""
        tenant = v.tenant(tenant_id)
        iid = v.integration_id(integration_id) if integration_id is not None else None
        most = v.read_limit(limit, v.MAX_PAGE)
        return await self._run(
            lambda: self._alerts_with_deliveries(tenant, iid, most, self._watch_tables())
        )

    def _watch_tables(self) -> Tables | None:
        from core.watch.state import read_tables

        return read_tables(self._ctx.db_path)

    def _alerts_with_deliveries(
        self, tenant: str, iid: str | None, most: int, tables: Tables | None
    ) -> list[Alert]:
        from core.watch.state import deliveries_by_alert

        alerts = self._usage.get_alerts(tenant, iid, most)
        found = deliveries_by_alert(tables)
        if not found:
            return alerts
        return [
            a.model_copy(update={"deliveries": [AlertDelivery(**d) for d in found[a.id]]})
            if a.id in found
            else a
            for a in alerts
        ]

    async def get_watch_alerts(
        self, tenant_id: str, integration_id: str | None = None, *, limit: int = 100
    ) -> list[WatchAlert]:
        """Alerts `byok watch`'s own rules raised (health transitions, low credit runway, spend
        drift), newest first, each with its deliveries; [] when no watcher ever ran."""
        tenant = v.tenant(tenant_id)
        iid = v.integration_id(integration_id) if integration_id is not None else None
        most = v.read_limit(limit, v.MAX_PAGE)
        return await self._run(
            lambda: self._watch_alerts(tenant, iid, most, self._watch_tables())
        )

    async def get_every_alert(
        self, tenant_id: str, integration_id: str | None = None, *, limit: int = 100
    ) -> list[Alert | WatchAlert]:
        """`get_alerts` and `get_watch_alerts` in one list, newest first, `limit` in all: what
        `byok alerts` and the console's detail show (the watcher's file read once)."""
        tenant = v.tenant(tenant_id)
        iid = v.integration_id(integration_id) if integration_id is not None else None
        most = v.read_limit(limit, v.MAX_PAGE)

        def every() -> list[Alert | WatchAlert]:
            tables = self._watch_tables()
            both: list[Alert | WatchAlert] = [
                *self._alerts_with_deliveries(tenant, iid, most, tables),
                *self._watch_alerts(tenant, iid, most, tables),
            ]
            return sorted(both, key=lambda a: a.created_at, reverse=True)[:most]

        return await self._run(every)

    def _watch_alerts(
        self, tenant: str, iid: str | None, most: int, tables: Tables | None
    ) -> list[WatchAlert]:
        from core.timeutil import from_us
        from core.watch.state import watch_alerts

        raised = watch_alerts(tables, tenant, iid, most)
        if not raised:
            return []
        names: dict[str, str] = {}
        for found in {d["integration_id"] for d in raised if d.get("integration_id")}:
            doc = self._repo.get(tenant, found)
            if doc is not None:  # a deleted integration's alerts stay, with no name
                names[found] = doc["name"]
        return [
            WatchAlert(
                id=d["key"],
                kind=d["event"],
                integration_id=d.get("integration_id"),
                integration_name=names.get(d.get("integration_id") or ""),
                title=d["title"],
                message=d["body"],
                created_at=from_us(d["created_us"]),
                deliveries=[AlertDelivery(**x) for x in d["deliveries"]],
            )
            for d in raised
        ]

    # -- lifetime -------------------------------------------------------------------------------

    def spend(self) -> SpendService:
        """The spend capability (accounts, sync, drift: core.spend), opened on first use.
        Synchronous: run its calls in a worker thread from async code."""
        if self._spend is None:
            from core.spend.service import SpendService

            self._spend = SpendService(
                self._repo,
                self._ctx.vault,
                self._ctx.clock,
                usage_log_dir=self._dashboard.usage.log_dir,
                durable=self._ctx.options.durable,
                after_sync=self._usage.raise_reported_alerts,
            )
        return self._spend

    async def aclose(self) -> None:
        if self._spend is not None:
            self._spend.close()
        await self._health.aclose()
        self._usage.close()
        self._ctx.store.close()


_facade_instance: IntegrationsFacade | None = None
_facade_lock = threading.Lock()


def get_integrations_facade() -> IntegrationsFacade:
    """The process-wide facade on the default database ($BYOK_DB, else the user data dir)."""
    global _facade_instance
    with _facade_lock:
        if _facade_instance is None:
            _facade_instance = IntegrationsFacade()
        return _facade_instance
