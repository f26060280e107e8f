"""The watcher's loop: a round every few seconds, the slow work in tasks of their own.

Each round renews the lease; the lease holder then starts a probe of the stale integrations, a
provider spend sync when one is due and a delivery of the due outbox items, each when none of
its kind is running (so one integration is never probed twice at once, two syncs never overlap
and a slow channel never holds up the probes), fires the rules' events, and every watcher
(holder or standby) re-renders its metrics. A round that fails is logged and counted; the next
one starts as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.enums import Decision, HealthState
from core.paths import side_file
from core.readmodels import LimitFigures, Row
from core.timeutil import to_us
from core.watch.channels import Channel, DeliveryError
from core.watch.lease import Lease
from core.watch.metrics import Metrics, Sample, samples_of
from core.watch.outbox import Delivery, Event, Outbox, Retry
from core.watch.rules import health_events, usage_events
from core.watch.spendrules import drift_events, runway_events, runway_key
from core.watch.spendview import ReportedFigures, SpendView, read_spend, tenants_with_accounts
from core.watch.stamps import Stamp, figures_stamp, file_stamp
from core.watch.state import WatchState

if TYPE_CHECKING:
    from core.facade import IntegrationsFacade
    from core.spend.service import SpendService

log = logging.getLogger("byok.watch")
CLAIM_US = 120 * 1_000_000  # an attempt's claim on an item: longer than any send takes
SYNCED = "sync:last"  # the `seen` entry of the last spend sync's start, for the schedule
Updates = dict[str, dict[str, Any] | None]
Batch = tuple[list[Event], Updates]


@dataclass
class WatchOptions:
    """How the watcher works; the defaults are `byok watch`'s."""

    probe_every_s: float = 300.0
    """An integration is probed again once its last probe is this old."""
    round_s: float = 5.0
    """Seconds between rounds: how soon a new alert, a probe result or a dead holder is seen."""
    lease_ttl_s: float = 30.0
    """A lease not renewed for this long is free: a successor takes over within it."""
    concurrency: int | None = None
    """Probes at once (None: the facade's probe_concurrency)."""
    metrics_every_s: float = 15.0
    """The exposition is re-rendered this often (and after each probe round or new alert): at
    10,000 integrations a rendering costs ~1-2 s of CPU, a scrape only serves its bytes."""
    retry: Retry = field(default_factory=Retry)
    """Delivery retries: attempts, backoff."""
    sync_every_s: float | None = 3600.0
    """The provider spend sync runs this often when accounts exist (None: never)."""
    runway_days: float | None = 7.0
    """An account's credit runway below this many days is an alert (None: no such alert)."""
    drift_percent: float | None = 20.0
    """A day's drift between recorded and reported spend above this % is an alert (None: no
    such alert)..."""
    drift_floor_cents: float = 100.0
    """...if the two differ by at least this many cents too."""


class Watcher:
    def __init__(
        self,
        facade: IntegrationsFacade,
        channels: Mapping[str, Channel],
        options: WatchOptions | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.facade = facade
        self.channels = dict(channels)
        self.options = options or WatchOptions()
        self.metrics = metrics or Metrics()
        ctx = facade.context
        self.state = WatchState(ctx.db_path, durable=ctx.store.durable)
        self.lease = Lease(self.state, ttl_s=self.options.lease_ttl_s)
        self.outbox = Outbox(self.state, self.options.retry)
        self._probing: asyncio.Task[None] | None = None
        self._rendered_at = -math.inf
        self._decisions: dict[tuple[str, str], tuple[object, Decision]] = {}
        self._stale_metrics = True
        self._delivering: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[None] | None = None
        self._stopping = False  # a sync between accounts stops at the next one
        # The figures of the last rendering, re-read only when a file changed (figures_stamp) or
        # time moved a figure (a call in the rolling minute, a period's end).
        self._stamp: Stamp | None = None
        self._read: dict[str, tuple[list[Row], dict[str, LimitFigures]]] = {}
        self._renew_us = -1  # when a figure changes with time alone
        # Provider-reported spend, re-read after a sync and when the spend file changed.
        self._spend_stamp: Stamp | None = None
        self._spend = SpendView()
        self._spend_fresh = False  # its rules not evaluated yet
        self._reported: dict[str, dict[str, ReportedFigures]] = {}
        self._samples: list[Sample] | None = None  # of the last rendering, while they stand

    def _now_us(self) -> int:
        return to_us(self.facade.context.clock())

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "watching %s (probe every %gs, channels: %s)",
            self.facade.db_path,
            self.options.probe_every_s,
            ", ".join(sorted(self.channels)) or "none",
        )
        if self.channels:  # Apprise's import takes a second or more: not at the first alert
            await asyncio.to_thread(importlib.import_module, "apprise")
        try:
            while not stop.is_set():
                await self.round()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.options.round_s)
        finally:
            await self._finish()

    async def _finish(self) -> None:
        self._stopping = True
        tasks = (self._probing, self._delivering, self._syncing)
        for task in tasks:
            if task is not None and not task.done():
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        was_leader = self.lease.held
        await asyncio.to_thread(self.lease.release)
        if was_leader:
            log.info("released the watcher lease")
        self.state.close()

    async def round(self) -> None:
        """One round; what each step does is in the module docstring."""
        was = self.lease.held
        try:
            leader = await asyncio.to_thread(self.lease.acquire, self._now_us())
        except Exception as exc:
            self._failed("lease", exc)
            leader = False
        if leader != was:
            log.info("%s the watcher lease", "took" if leader else "lost")
        if leader:
            if self._probing is None or self._probing.done():
                self._probing = asyncio.create_task(self._probe())
            if (self._syncing is None or self._syncing.done()) and await self._sync_due():
                self._syncing = asyncio.create_task(self._step("sync", self.sync()))
        await self._step("spend", self.read_spend())
        if leader:
            await self._step("rules", self.fire())
            if self.channels and (self._delivering is None or self._delivering.done()):
                self._delivering = asyncio.create_task(self._step("delivery", self.deliver()))
        if (
            self._stale_metrics
            or leader != was
            or time.monotonic() - self._rendered_at >= self.options.metrics_every_s
        ):
            self._stale_metrics = False
            self._rendered_at = time.monotonic()
            await self._step("metrics", self.refresh_metrics(leader))

    async def _step(self, name: str, work: object) -> None:
        try:
            await work  # type: ignore[misc]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(name, exc)

    def _failed(self, step: str, exc: BaseException) -> None:
        self.metrics.rounds_failed.labels(step).inc()
        log.warning("%s failed: %s", step, exc)

    # -- the steps ------------------------------------------------------------------------------

    def tenants(self) -> list[str]:
        return self.facade.dashboard.tenants()

    async def _probe(self) -> None:
        try:
            await self.probe()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed("probe", exc)

    async def probe(self) -> int:
        """Probe the enabled integrations whose last probe is older than probe_every_s."""
        n = 0
        failed = 0
        for tenant in await asyncio.to_thread(self.tenants):
            options: dict[str, object] = {"stale_after_s": self.options.probe_every_s}
            if self.options.concurrency is not None:
                options["concurrency"] = self.options.concurrency
            async for result in self.facade.check_many(tenant, **options):
                n += 1
                bad = result.health_state == HealthState.FAILING
                failed += bad
                self.metrics.probes.labels("failing" if bad else "ok").inc()
        if n:
            log.info("probed %d integrations (%d failing)", n, failed)
            self._stale_metrics = True
        return n

    # -- the provider spend sync ----------------------------------------------------------------

    def _spend_service(self) -> SpendService | None:
        """The facade's spend capability, once a spend file exists (an account was added);
        opened on the loop's thread, so only once."""
        if not side_file(self.facade.db_path, "spend").exists():
            return None
        return self.facade.spend()

    async def _sync_due(self) -> bool:
        every = self.options.sync_every_s
        if every is None or self._spend_service() is None:
            return False
        last = (await asyncio.to_thread(self.state.tables))["seen"].get(SYNCED) or {}
        return self._now_us() - int(last.get("at_us", 0)) >= every * 1_000_000

    async def sync(self) -> int:
        """Sync every account of every tenant, one account at a time, in a worker thread: the
        rounds (and a scrape) go on meanwhile. An account that fails is logged and counted, and
        the others go on. How many accounts synced."""
        spend = self._spend_service()
        if spend is None:
            return 0
        at = self._now_us()
        await asyncio.to_thread(self._mark_synced, at)  # first: a failing sync is not retried
        ok = 0
        for tenant in await asyncio.to_thread(tenants_with_accounts, spend):
            for account in await asyncio.to_thread(spend.accounts.list, tenant):
                if self._stopping:
                    return ok
                try:
                    (report,) = await asyncio.to_thread(spend.sync, tenant, account.name)
                except Exception as exc:  # not the provider's: said by type only (no secret)
                    report = {"ok": False, "error": f"unexpected {type(exc).__name__}"}
                good = bool(report["ok"])
                self.metrics.syncs.labels(tenant, account.name, "ok" if good else "failed").inc()
                if good:
                    ok += 1
                    log.info("synced %s: %d windows, %d rows", account.name,
                             report["windows"], report["rows"])  # fmt: skip
                else:
                    log.warning("sync of %s failed: %s", account.name, report["error"])
        self._spend_stamp = None  # re-read at the next round
        return ok

    def _mark_synced(self, at_us: int) -> None:
        with self.state.change() as tables:
            tables["seen"][SYNCED] = {"kind": "sync", "at_us": at_us}

    async def read_spend(self) -> None:
        """Re-read what the providers reported when the spend file changed (a sync by this
        watcher or by `byok sync`); the rules then look at it once. Not while this watcher's
        sync runs (each window it commits changes the file): once it ends."""
        if self._syncing is not None and not self._syncing.done():
            return
        path = side_file(self.facade.db_path, "spend")
        stamp = await asyncio.to_thread(file_stamp, path)
        if stamp == self._spend_stamp:
            return
        spend = self._spend_service()
        if spend is None:
            self._spend_stamp, self._spend = stamp, SpendView()
            return
        tenants = await asyncio.to_thread(tenants_with_accounts, spend)
        self._spend = await asyncio.to_thread(read_spend, spend, tenants)
        self._spend_stamp = stamp
        self._spend_fresh = True
        self._reported, self._samples = {}, None
        self._stale_metrics = True

    def _spend_events(
        self, seen: Mapping[str, Mapping[str, Any]], names: Mapping[str, str], now: int
    ) -> Batch:
        o = self.options
        events: list[Event] = []
        updates: Updates = {}
        if o.runway_days is not None:
            events, updates = runway_events(self._spend.balances, seen, o.runway_days, now)
        live = {runway_key(b.tenant, b.account_id) for b in self._spend.balances}
        for key in seen:
            if key.startswith("runway:") and key not in live:
                updates[key] = None  # the account was removed
        if o.drift_percent is not None:
            for tenant, days in self._spend.days.items():
                events += drift_events(
                    tenant, days, names, o.drift_percent, o.drift_floor_cents, now
                )
        return events, updates

    # -- the rules ------------------------------------------------------------------------------

    async def fire(self) -> int:
        """Fire the rules' new events into the outbox; how many were new."""
        now = self._now_us()
        new = 0
        seen = (await asyncio.to_thread(self.state.tables))["seen"]
        batches: list[Batch] = []
        names: dict[str, str] = {}
        for tenant in await asyncio.to_thread(self.tenants):
            alerts = await self.facade.get_alerts(tenant, limit=1000)
            rows = await asyncio.to_thread(self.facade.dashboard.rows, tenant)
            names.update((r.id, r.name) for r in rows)
            events, updates = health_events(tenant, rows, seen, now)
            batches.append((usage_events(tenant, alerts, now) + events, updates))
        spend = self._spend_fresh
        if spend:
            batches.append(self._spend_events(seen, names, now))
        for events, updates in batches:
            if not events and not updates:
                continue
            fired = await asyncio.to_thread(self.outbox.fire, events, self.channels, now, updates)
            for event in fired:
                log.info("alert %s: %s", event.kind, event.title)
            new += len(fired)
        if spend:
            self._spend_fresh = False  # committed: the next look is after the next change
        self._stale_metrics = self._stale_metrics or bool(new)
        return new

    async def deliver(self) -> int:
        """Send the due outbox items, oldest first; how many a channel took."""
        ctx = self.facade.context
        sent = 0
        for iid, _ in await asyncio.to_thread(self.outbox.due, self._now_us()):
            claimed = await asyncio.to_thread(
                self.outbox.claim, iid, self.lease.holder, self._now_us(), CLAIM_US
            )
            if claimed is None:
                continue  # delivered meanwhile, or this watcher is no longer the holder
            item = claimed
            self._stale_metrics = True  # the outbox's figures change either way
            channel = self.channels.get(item["channel"])
            try:
                if channel is None:
                    raise DeliveryError(f"the channel {item['channel']} is not configured")
                await asyncio.to_thread(
                    channel.send,
                    item["title"],
                    f"{item['body']}\n\n[byok alert {item['key']}]",
                    vault=ctx.vault,
                    db_path=ctx.db_path,
                    environ=ctx.environ,
                )
            except DeliveryError as exc:
                state = await asyncio.to_thread(self.outbox.failed, iid, str(exc), self._now_us())
                self.metrics.delivery_failed.labels(item["channel"]).inc()
                log.warning(
                    "delivery to %s failed (attempt %d%s): %s",
                    item["channel"],
                    item["attempts"] + 1,
                    ", given up" if state == Delivery.DEAD else "",
                    exc,
                )
                continue
            await asyncio.to_thread(self.outbox.delivered, iid, self._now_us())
            self.metrics.delivered.labels(item["channel"]).inc()
            log.info("delivered %s to %s", item["kind"], item["channel"])
            sent += 1
        return sent

    async def refresh_metrics(self, leader: bool) -> None:
        """Render the exposition. The rows and limits are re-read only when a file they come
        from changed (figures_stamp: a few stats), else only the figures time moves: those with
        calls in the rolling minute, and all of them once a period ends. With nothing re-read,
        the integrations' part of the last rendering stands."""
        dash = self.facade.dashboard
        ctx = self.facade.context
        now_us = self._now_us()
        stamp = await asyncio.to_thread(figures_stamp, ctx.db_path, dash.usage.log_dir)
        if stamp != self._stamp or now_us >= self._renew_us:
            self._stamp = stamp  # taken before the read: a write during it is seen next time
            self._read = await asyncio.to_thread(self._read_all)
            self._reported, self._samples = {}, None
        elif (again := await asyncio.to_thread(self._read_rolling)) is not None:
            self._read, self._samples = again, None
        if self._samples is None or len(self._reported) < len(self._read):
            self._renew_us = min(
                (to_us(f.period_end) for _, figs in self._read.values() for f in figs.values()),
                default=now_us + 3_600_000_000,
            )
            self._samples = await self._build_samples()
        depth = await asyncio.to_thread(self.outbox.depth)
        await asyncio.to_thread(
            self.metrics.refresh, self._samples, depth, leader, time.time(), self._spend.balances
        )

    async def _build_samples(self) -> list[Sample]:
        samples: list[Sample] = []
        known: dict[tuple[str, str], tuple[object, Decision]] = {}
        for tenant, (rows, figures) in self._read.items():
            # A decision follows from the row (status, health) and its figures: asked again only
            # of the integrations where either changed (check_limits costs ~0.1 ms each).
            basis = {r.id: (r, figures.get(r.id)) for r in rows}
            ask = [i for i, b in basis.items() if self._decisions.get((tenant, i), (None,))[0] != b]
            fresh = await self.facade.limit_decisions(tenant, ask) if ask else {}
            decisions: dict[str, Decision] = {}
            for iid, b in basis.items():
                if iid in fresh:
                    decisions[iid] = fresh[iid]
                elif (tenant, iid) in self._decisions and iid not in ask:
                    decisions[iid] = self._decisions[(tenant, iid)][1]
                if iid in decisions:
                    known[(tenant, iid)] = (b, decisions[iid])
            if tenant not in self._reported:
                periods = {i: (f.period_start, f.period_end) for i, f in figures.items()}
                self._reported[tenant] = self._spend.reported(tenant, periods)
            samples += samples_of(tenant, rows, figures, decisions, self._reported[tenant])
        self._decisions = known
        return samples

    def _read_all(self) -> dict[str, tuple[list[Row], dict[str, LimitFigures]]]:
        dash = self.facade.dashboard
        out = {}
        for tenant in dash.tenants():
            rows = dash.rows(tenant)
            out[tenant] = (rows, dash.limits(tenant, [r.id for r in rows]))
        return out

    def _read_rolling(self) -> dict[str, tuple[list[Row], dict[str, LimitFigures]]] | None:
        """The last read, with the figures of calls still in the rolling minute read again;
        None when there is none (the last read stands)."""
        out = {}
        again_any = False
        for tenant, (rows, figures) in self._read.items():
            rolling = [i for i, f in figures.items() if f.requests_this_minute]
            again = self.facade.dashboard.limits(tenant, rolling) if rolling else {}
            again_any = again_any or bool(rolling)
            out[tenant] = (rows, {**figures, **again})
        return out if again_any else None
