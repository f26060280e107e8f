"""What the watcher knows of provider-reported spend: `byok spend`'s report of every tenant with
an account, read after each sync and whenever the spend file changed (never on a scrape)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.watch.spendrules import Balance

if TYPE_CHECKING:
    from core.spend.service import SpendService


@dataclass(frozen=True)
class ReportedFigures:
    """An integration's reported spend and drift over the days of its limits' period."""

    reported_cents: float
    drift_cents: float | None  # None: no day of the period has both figures


@dataclass
class SpendView:
    balances: list[Balance] = field(default_factory=list)
    days: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # tenant -> day rows

    def reported(
        self, tenant: str, periods: Mapping[str, tuple[datetime, datetime]]
    ) -> dict[str, ReportedFigures]:
        """Per integration (of `periods`: id -> its period's bounds), the sums of its synced
        days that lie in the period."""
        sums: dict[str, list[float | None]] = {}
        for r in self.days.get(tenant, ()):
            bounds = periods.get(r["integration_id"])
            if bounds is None:
                continue
            start, end = bounds
            if not start.isoformat()[:10] <= r["period_start"][:10] < end.isoformat()[:10]:
                continue
            acc = sums.setdefault(r["integration_id"], [0.0, None])
            acc[0] = (acc[0] or 0.0) + r["reported_cents"]
            if r["drift_cents"] is not None:
                acc[1] = (acc[1] or 0.0) + r["drift_cents"]
        return {
            iid: ReportedFigures(round(rep or 0.0, 4), None if d is None else round(d, 4))
            for iid, (rep, d) in sums.items()
        }


def tenants_with_accounts(spend: SpendService) -> list[str]:
    return sorted({d["tenant_id"] for d in spend.store.table("accounts").values()})


def read_spend(spend: SpendService, tenants: Sequence[str]) -> SpendView:
    view = SpendView()
    for tenant in tenants:
        accounts = {a.name: a for a in spend.accounts.list(tenant)}
        report = spend.report(tenant)
        view.days[tenant] = report["days"]
        for b in report["balances"]:
            account = accounts.get(b["account"])
            if account is None:
                continue
            view.balances.append(
                Balance(
                    tenant=tenant,
                    account_id=account.id,
                    account=account.name,
                    provider=account.provider,
                    currency=b["currency"],
                    balance_cents=float(b["balance_cents"]),
                    runway_days=b["runway_days"],
                )
            )
    return view
