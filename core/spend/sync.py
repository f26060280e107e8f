"""`byok sync`: read each account's reports and store them, one atomic window at a time.

A window is up to 7 whole UTC days (168 hourly buckets, the providers' page limit), the last
one ending now. All its pages are read first; then its days are replaced in one commit with the
watermark (store.commit_window). A 5xx, a bad page or a kill before that commit writes nothing
of the window; windows already committed stay. The next sync starts at the watermark, or 48
hours back if that is later (the providers still revise recent hours), always at a day start.
One account that fails does not stop the others: its report says why.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.enums import ProviderType
from core.errors import IntegrationError
from core.integrations.repository import IntegrationRepo
from core.spend import anthropic
from core.spend import providers as p
from core.spend.accounts import Account, Accounts
from core.spend.links import auto_links, local_hint
from core.spend.store import DayRows, Doc, SpendStore, day_names
from core.timeutil import Clock, from_iso, to_iso, to_us
from core.usage.pricing import PriceTable, nc_to_cents

WINDOW = timedelta(days=7)
REVISED = timedelta(hours=48)
FIRST_DAYS = 30
Fetch = Callable[[p.AdminClient, datetime, datetime], Iterator[p.Row]]
REPORTS: dict[str, tuple[Fetch, Fetch, Callable[[p.AdminClient], list[tuple[str, str]]]]] = {
    "openai": (p.openai_usage, p.openai_costs, p.openai_keys),
    "anthropic": (anthropic.usage, anthropic.costs, p.anthropic_keys),
}


def day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Syncer:
    store: SpendStore
    accounts: Accounts
    repo: IntegrationRepo
    clock: Clock
    sleep: Callable[[float], None] = time.sleep
    max_wait_s: float = 60.0
    timeout_s: float = 30.0

    def client(self, base_url: str, provider: str, secret: str) -> p.AdminClient:
        return p.AdminClient(
            base_url,
            p.headers_for(provider, secret),
            timeout_s=self.timeout_s,
            max_wait_s=self.max_wait_s,
            sleep=self.sleep,
            now=self.clock,
        )

    def sync(
        self, tenant_id: str, account: str | None = None, days: int | None = None
    ) -> list[dict[str, Any]]:
        chosen = (
            [self.accounts.get(tenant_id, account)] if account else self.accounts.list(tenant_id)
        )
        return [self._one(a, days) for a in chosen]

    def _one(self, account: Account, days: int | None) -> dict[str, Any]:
        report: dict[str, Any] = {
            "account": account.name,
            "provider": account.provider,
            "ok": True,
            "error": None,
            "windows": 0,
            "rows": 0,
            "read": [],
        }
        try:
            client = self.client(account.base_url, account.provider, self.accounts.secret(account))
            try:
                if account.provider in REPORTS:
                    self._reports(account, client, days, report)
                else:
                    self._balance(account, client, report)
            finally:
                report["read"] = sorted(client.routes)  # which of the provider's APIs answered
                client.close()
        except IntegrationError as exc:  # SyncError, CredentialError, StoreError: said, not raised
            report.update(ok=False, error=str(exc))
        self._remember(account, report)
        return report

    def _remember(self, account: Account, report: Mapping[str, Any]) -> None:
        """The account's last sync, for whoever shows it later (the console, another process):
        when, whether it worked, and the integrations it could not link."""
        doc = {
            "tenant_id": account.tenant_id,
            "at": to_iso(self.clock()),
            "ok": report["ok"],
            "error": report["error"],
            "ambiguous": [a["integration_id"] for a in report.get("ambiguous") or ()],
            "unmatched": list(report.get("unmatched") or ()),
        }
        if account.id not in self.store.table("accounts"):
            return  # removed meanwhile: nothing to remember it by
        with contextlib.suppress(IntegrationError):  # the sync's result stands, unrecorded
            self.store.put("syncs", account.id, doc)

    # -- OpenAI and Anthropic: usage and cost reports -------------------------------------------

    def _reports(
        self, account: Account, client: p.AdminClient, days: int | None, report: dict[str, Any]
    ) -> None:
        usage, costs, keys = REPORTS[account.provider]
        report.update(self.link(account, keys(client)))
        prices = _Prices(account.provider)
        for kind, fetch in (("usage", usage), ("cost", costs)):
            now = self.clock()
            start = self._start(account, kind, now, days)
            while start < now:
                end = min(start + WINDOW, now)
                summed = DayRows(kind, day_names(start, end))
                for row in fetch(client, start, end):  # every page is read before the commit
                    if kind == "usage":
                        row["cents"] = prices.cents(row)
                    # a row outside the window is dropped: it must not replace a day half-read
                    summed.add((row.get("day") or row["start"])[:10], row)
                    report["rows"] += 1
                self.store.commit_window(
                    account.tenant_id,
                    account.id,
                    kind,
                    summed.rows(),
                    to_iso(self.clock()),
                    to_iso(end),
                )
                report["windows"] += 1
                start = end

    def _start(self, account: Account, kind: str, now: datetime, days: int | None) -> datetime:
        if days is not None:
            return day_start(now - timedelta(days=days))
        mark = from_iso(self.store.mark(account.id, kind))
        if mark is None:
            return day_start(now - timedelta(days=FIRST_DAYS))
        return day_start(min(mark, now - REVISED))

    def link(self, account: Account, keys: list[tuple[str, str]]) -> dict[str, Any]:
        """Refresh the automatic links of the account's provider; manual links are kept."""
        tenant = account.tenant_id
        current = self.store.links_to(tenant)
        # not the ones linked by hand, nor those another account of the provider linked
        docs = [
            d
            for d in self.repo.find(tenant, provider_type=ProviderType(account.provider))
            if (current.get(d["id"]) or {}).get("how") != "manual"
            and (current.get(d["id"]) or {}).get("account_id", account.id) == account.id
        ]
        hints = {d["id"]: local_hint(d, self.repo.secret) for d in docs}
        linked, ambiguous, unmatched = auto_links(hints, keys)
        stale = [iid for iid in hints if iid in current and iid not in linked]
        self.store.drop("links", stale)
        self.store.link_many(
            {
                iid: {
                    "tenant_id": tenant,
                    "account_id": account.id,
                    "provider_key_id": kid,
                    "how": "auto",
                }
                for iid, kid in linked.items()
            }
        )
        return {
            "linked": [{"integration_id": i, "provider_key_id": k} for i, k in linked.items()],
            "ambiguous": ambiguous,
            "unmatched": unmatched,
        }

    # -- OpenRouter and DeepSeek: balances ------------------------------------------------------

    def _balance(self, account: Account, client: p.AdminClient, report: dict[str, Any]) -> None:
        burn7: float | None = None
        if account.provider == "openrouter":
            currency, amount = p.openrouter_credits(client)
            burn7 = self._openrouter_keys(account, report)
        else:
            currency, amount = p.deepseek_balance(client)
        now = to_iso(self.clock())
        self.store.put(
            "balances",
            account.id,
            {
                "tenant_id": account.tenant_id,
                "currency": currency,
                "amount_cents": amount,
                "burn7_cents": burn7,
                "synced_at": now,
            },
        )
        report["balance_cents"] = amount
        report["currency"] = currency

    def _openrouter_keys(self, account: Account, report: dict[str, Any]) -> float:
        """Each OpenRouter integration's own /key (with its own key): today's spend as the day's
        reported figure; the sum of the weeks, for the runway. A key that cannot be read is
        said in `report["key_errors"]`, and the others go on."""
        today = day_start(self.clock()).strftime("%Y-%m-%d")
        # OpenRouter's own dollars for the key's day: a cost per key, as the providers' own
        # figures are stored (core.spend.report prefers it to tokens priced by byok)
        summed = DayRows("cost", [today])
        week = 0.0
        links: dict[str, Doc] = {}
        for doc in self.repo.find(account.tenant_id, provider_type=ProviderType.OPENROUTER):
            base = (doc.get("config") or {}).get("base_url") or account.base_url
            try:
                secret = self.repo.secret(doc)
                if not secret:
                    continue
                client = self.client(base, "openrouter", secret)
                try:
                    daily, weekly = p.openrouter_key(client)
                finally:
                    client.close()
            except IntegrationError as exc:
                report.setdefault("key_errors", []).append(
                    {"integration_id": doc["id"], "error": str(exc)}
                )
                continue
            summed.add(today, {"key": doc["id"], "cents": daily})
            week += weekly
            links[doc["id"]] = {
                "tenant_id": account.tenant_id,
                "account_id": account.id,
                "provider_key_id": doc["id"],
                "how": "auto",
            }
        self.store.link_many(links)
        report["rows"] = len(summed.by_day[today])
        self.store.commit_window(
            account.tenant_id,
            account.id,
            "cost",
            summed.rows(),
            to_iso(self.clock()),
            to_iso(self.clock()),
        )
        return week


class _Prices:
    """Tokens priced with genai-prices (the usage reports carry no cost per key)."""

    def __init__(self, provider: str) -> None:
        self.table = PriceTable()
        self.pid = PriceTable.provider_id(provider, None)
        self._at_us: dict[str, int] = {}

    def cents(self, row: Mapping[str, Any]) -> float | None:
        at_us = self._at_us.get(row["start"])
        if at_us is None:  # an hour's rows share it: parsed once
            at = from_iso(row["start"])
            at_us = self._at_us[row["start"]] = to_us(at) if at else 0
        nc = self.table.cost_nc(
            self.pid,
            row["model"],
            row["in"],
            row["out"],
            row["cached"],
            row["cache_write"],
            at_us=at_us or None,
        )
        return None if nc is None else nc_to_cents(nc)
