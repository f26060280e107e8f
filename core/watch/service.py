"""The watcher's loop: a round every few seconds, the slow work in tasks of their own.

Each round renews the lease; the lease holder then starts a probe of the stale integrations and
a delivery of the due outbox items when none is running (so one integration is never probed
twice at once and a slow channel never holds up the probes), fires the rules' events, and every
watcher (holder or standby) re-renders its metrics. A round that fails is logged and counted;
the next one starts as usual.
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
from typing import TYPE_CHECKING

from core.enums import Decision, HealthState
from core.timeutil import to_us
from core.watch.channels import Channel, DeliveryError
from core.watch.lease import Lease
from core.watch.metrics import Metrics, Sample, samples_of
from core.watch.outbox import Delivery, Outbox, Retry
from core.watch.rules import health_events, usage_events
from core.watch.state import WatchState

if TYPE_CHECKING:
    from core.facade import IntegrationsFacade

log = logging.getLogger("byok.watch")
CLAIM_US = 120 * 1_000_000  # an attempt's claim on an item: longer than any send takes


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
        for task in (self._probing, self._delivering):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._probing, self._delivering):
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

    async def fire(self) -> int:
        """Fire the rules' new events into the outbox; how many were new."""
        now = self._now_us()
        new = 0
        seen = (await asyncio.to_thread(self.state.tables))["seen"]
        for tenant in await asyncio.to_thread(self.tenants):
            alerts = await self.facade.get_alerts(tenant, limit=1000)
            rows = await asyncio.to_thread(self.facade.dashboard.rows, tenant)
            events, updates = health_events(tenant, rows, seen, now)
            events = usage_events(tenant, alerts, now) + events
            if not events and not updates:
                continue
            fired = await asyncio.to_thread(self.outbox.fire, events, self.channels, now, updates)
            for event in fired:
                log.info("alert %s: %s", event.kind, event.title)
            new += len(fired)
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
        dash = self.facade.dashboard
        samples: list[Sample] = []
        known: dict[tuple[str, str], tuple[object, Decision]] = {}
        for tenant in await asyncio.to_thread(self.tenants):
            rows = await asyncio.to_thread(dash.rows, tenant)
            figures = await asyncio.to_thread(dash.limits, tenant, [r.id for r in rows])
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
            samples += samples_of(tenant, rows, figures, decisions)
        self._decisions = known
        depth = await asyncio.to_thread(self.outbox.depth)
        await asyncio.to_thread(self.metrics.refresh, samples, depth, leader, time.time())
