"""The spend capability in one object: accounts, sync, links by hand, and the spend report.
Synchronous (the facade and the CLI run it in a worker thread); it holds the spend side file."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.enums import ProviderType
from core.errors import ValidationError
from core.integrations.credentials import Vault
from core.integrations.repository import IntegrationRepo
from core.paths import side_file
from core.spend.accounts import Account, Accounts
from core.spend.report import Row, balance_rows, recorded_by_day, spend_rows, summary
from core.spend.store import SpendStore
from core.spend.sync import Syncer, day_start
from core.timeutil import Clock, from_iso, to_iso


class SpendService:
    def __init__(
        self,
        repo: IntegrationRepo,
        vault: Vault,
        clock: Clock,
        *,
        usage_log_dir: Path,
        durable: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_s: float = 60.0,
        after_sync: Callable[[str], object] | None = None,
    ) -> None:
        db_path = repo.store.path
        self.store = SpendStore(side_file(db_path, "spend"), durable=durable)
        self.accounts = Accounts(
            self.store, vault, clock, repo.environ, db_path, first_seal=repo._first_seal
        )
        self.repo, self.clock, self.log_dir = repo, clock, usage_log_dir
        self.after_sync = after_sync  # the facade's: the alerts the reported spend brings
        self.syncer = Syncer(
            self.store, self.accounts, repo, clock, sleep=sleep, max_wait_s=max_wait_s
        )

    def close(self) -> None:
        self.store.close()

    def add_account(self, tenant_id: str, name: str, provider: str, credential: str,
                    base_url: str | None = None) -> Account:  # fmt: skip
        return self.accounts.add(tenant_id, name, provider, credential, base_url)

    def sync(
        self, tenant_id: str, account: str | None = None, days: int | None = None
    ) -> list[dict[str, Any]]:
        reports = self.syncer.sync(tenant_id, account, days)
        if self.after_sync is not None and any(r.get("ok") for r in reports):
            self.after_sync(tenant_id)
        return reports

    def link(
        self, tenant_id: str, ref: str, provider_key_id: str, account: str | None = None
    ) -> dict[str, Any]:
        """Tie an integration to a provider key id by hand; sync never changes it."""
        link = self.plan_link(tenant_id, ref, provider_key_id, account)
        self.commit_link(link)
        return link

    def commit_link(self, link: dict[str, Any]) -> None:
        """Store a link that plan_link checked."""
        fields = ("tenant_id", "account_id", "provider_key_id", "how")
        self.store.link_many({link["integration_id"]: {k: link[k] for k in fields}})

    def plan_link(
        self, tenant_id: str, ref: str, provider_key_id: str, account: str | None = None
    ) -> dict[str, Any]:
        """The link `link` would store, checked (ValidationError), nothing written: `byok edit`
        checks it before it changes anything else."""
        doc = self.repo.resolve(tenant_id, ref)
        if doc is None:
            raise ValidationError(f"no integration {ref!r} in tenant {tenant_id!r}", "ref")
        kid = provider_key_id.strip()
        if not kid or len(kid) > 200 or not kid.isprintable():
            raise ValidationError("must be the provider's key id", "provider_key_id")
        if account is not None:
            chosen = self.accounts.get(tenant_id, account)
        else:
            same = [a for a in self.accounts.list(tenant_id) if a.provider == doc["provider_type"]]
            if len(same) != 1:
                raise ValidationError(
                    f"{len(same)} {doc['provider_type']} accounts: name one with --account",
                    "account",
                )
            chosen = same[0]
        if chosen.provider != doc["provider_type"]:
            raise ValidationError(
                f"{chosen.name} is not a {doc['provider_type']} account", "account"
            )
        return {
            "integration_id": doc["id"],
            "account": chosen.name,
            "tenant_id": tenant_id,
            "account_id": chosen.id,
            "provider_key_id": kid,
            "how": "manual",
        }

    def report(self, tenant_id: str, ref: str | None = None) -> dict[str, Any]:
        only = None
        if ref is not None:
            doc = self.repo.resolve(tenant_id, ref)
            if doc is None:
                raise ValidationError(f"no integration {ref!r} in tenant {tenant_id!r}", "ref")
            only = doc["id"]
        links = self.store.links_to(tenant_id)
        accounts = {a.id: a for a in self.accounts.list(tenant_id)}
        deepseek = [d["id"] for d in self.repo.find(tenant_id, provider_type=ProviderType.DEEPSEEK)]
        recorded, log_from = recorded_by_day(self.log_dir, tenant_id, [*links, *deepseek])
        rows = spend_rows(self.store.days(tenant_id), links, recorded, log_from, only)
        week = {(self.clock() - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(7)}
        burn = {
            aid: sum(c for (iid, day), c in recorded.items() if iid in deepseek and day in week)
            for aid, a in accounts.items()
            if a.provider == "deepseek"
        }
        balances = balance_rows(
            {aid: a.name for aid, a in accounts.items()}, self.store.table("balances"), burn
        )
        return {"days": rows, "balances": balances}

    def overview(self, tenant_id: str) -> dict[str, Any]:
        """What the console shows, in one read: `report` (days, balances), each account with
        its last sync and balance, and per integration its link (auto, manual, ambiguous,
        unmatched), today's and this month's figures (`summary`) and its account's balance."""
        accounts = self.accounts.list(tenant_id)
        if not accounts:  # nothing synced to show: no file is read further
            return {"days": [], "balances": [], "accounts": [], "integrations": {}}
        spent = self.report(tenant_id)
        syncs = self.store.table("syncs")
        balances = {b["account"]: b for b in spent["balances"]}
        shown = []
        for a in accounts:
            last = syncs.get(a.id) or {}
            shown.append(
                {
                    **a.public(),
                    "last_sync_at": last.get("at"),
                    "last_sync_ok": last.get("ok"),
                    "last_error": last.get("error"),
                    "balance": balances.get(a.name),
                }
            )
        states = self._link_states(tenant_id, accounts, syncs)
        now = self.clock()
        today = to_iso(day_start(now))
        month = to_iso(day_start(now).replace(day=1))
        by_iid: dict[str, list[Row]] = {}
        for row in spent["days"]:
            by_iid.setdefault(row["integration_id"], []).append(row)
        names = {a.id: a.name for a in accounts}
        for link in states.values():
            link["account"] = names.get(link["account"], link["account"])
        deepseek = [d["id"] for d in self.repo.find(tenant_id, provider_type=ProviderType.DEEPSEEK)]
        only = [a.name for a in accounts if a.provider == "deepseek"]
        one = only[0] if len(only) == 1 else None
        for iid in deepseek:  # no key link: the balance is the tenant's DeepSeek account's
            states.setdefault(iid, {"state": "none", "provider_key_id": None, "account": one})
        integrations = {}
        for iid, link in states.items():
            rows = by_iid.get(iid, [])
            integrations[iid] = {
                "link": link,
                "today": summary(rows, today),
                "month": summary(rows, month),
                "balance": balances.get(link["account"]) if link["account"] else None,
            }
        return {**spent, "accounts": shown, "integrations": integrations}

    def _link_states(
        self, tenant_id: str, accounts: list[Account], syncs: Any
    ) -> dict[str, dict[str, Any]]:
        """integration id -> {state, provider_key_id, account (its id)}: a link (auto or
        manual) first; else what the last sync of its provider's account found (ambiguous,
        unmatched)."""
        states: dict[str, dict[str, Any]] = {}
        for a in accounts:
            last = syncs.get(a.id) or {}
            for state in ("unmatched", "ambiguous"):  # ambiguous says more: it wins
                for iid in last.get(state) or ():
                    states[iid] = {"state": state, "provider_key_id": None, "account": a.id}
        for iid, link in self.store.links_to(tenant_id).items():
            states[iid] = {
                "state": link.get("how", "auto"),
                "provider_key_id": link.get("provider_key_id"),
                "account": link.get("account_id"),
            }
        return states

    def due(self, tenant_id: str, older_than_s: float) -> list[Account]:
        """The accounts not synced (by any process: the console, cron, `byok watch`) for
        `older_than_s` seconds, or never."""
        syncs = self.store.table("syncs")
        cut = self.clock() - timedelta(seconds=older_than_s)
        out = []
        for account in self.accounts.list(tenant_id):
            at = from_iso((syncs.get(account.id) or {}).get("at"))
            if at is None or at <= cut:
                out.append(account)
        return out
