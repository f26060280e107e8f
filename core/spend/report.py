"""`byok spend`: per integration and UTC day, what byok recorded beside what the provider
reported, their difference (drift), and each account's balance and runway.

Recorded spend per day is read from the usage log (core.usage.store), which keeps the last days
only (7 by default): for an older day `recorded_cents` is None (not known), not 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.spend.store import Doc
from core.timeutil import to_iso
from core.usage.pricing import nc_to_cents
from core.usage.store import SEGMENT_SUFFIX, segment_frames

Row = dict[str, Any]
RUNWAY_DAYS = 7  # the burn that the runway extrapolates: the last 7 days


def recorded_by_day(
    log_dir: Path, tenant_id: str, integration_ids: Iterable[str]
) -> tuple[dict[tuple[str, str], float], str | None]:
    """(integration id, day) -> recorded cents from the log, and the first day the log holds
    (None when it holds nothing). Only integration ids asked for are summed."""
    wanted = set(integration_ids)
    sums: dict[tuple[str, str], float] = {}
    if not wanted:  # nothing to sum: the log is not read
        return sums, None
    try:
        names = sorted(
            e.name for e in os.scandir(log_dir)
            if e.name.endswith(SEGMENT_SUFFIX) and not e.name.startswith(".")
        )  # fmt: skip
    except FileNotFoundError:
        return sums, None
    for name in names:
        for body in segment_frames(log_dir / name):
            if body.get("t") != tenant_id:
                continue
            ids = body.get("i") or []
            for row in body.get("e") or ():
                iid = ids[row[0]]
                if iid not in wanted or row[5] is None:
                    continue
                day = datetime.fromtimestamp(row[2] / 1e6, UTC).strftime("%Y-%m-%d")
                sums[(iid, day)] = sums.get((iid, day), 0.0) + nc_to_cents(int(row[5]))
    return sums, (names[0][:10] if names else None)


def spend_rows(
    days: Iterable[Doc],
    links: Mapping[str, Doc],
    recorded: Mapping[tuple[str, str], float],
    log_from: str | None,
    only: str | None = None,
) -> list[Row]:
    """One row per linked integration and synced usage day."""
    by_key = {
        (d["account_id"], d["provider_key_id"]): iid
        for iid, d in links.items()
        if only is None or iid == only
    }
    out: dict[tuple[str, str], Row] = {}
    for doc in days:
        if doc.get("kind") != "usage":
            continue
        day = doc["day"]
        touched = {iid for (acc, _), iid in by_key.items() if acc == doc["account_id"]}
        for iid in touched:  # a synced day with no row is a reported 0
            _row(out, iid, day, doc["synced_at"])
        for r in doc["rows"]:
            iid = by_key.get((doc["account_id"], r.get("key")))
            if iid is None:
                continue
            row = _row(out, iid, day, doc["synced_at"])
            row["reported_cents"] += r.get("cents") or 0.0
            row["reported_tokens"] += int(r.get("in") or 0) + int(r.get("out") or 0)
    for (iid, day), (cents, synced_at) in _billed_per_key(days, by_key).items():
        row = _row(out, iid, day, synced_at)
        row["reported_cents"], row["reported_from"] = cents, "provider"
    for (iid, day), row in out.items():
        known = log_from is not None and day >= log_from
        rec = recorded.get((iid, day), 0.0) if known else None
        row["recorded_cents"] = None if rec is None else round(rec, 4)
        row["reported_cents"] = round(row["reported_cents"], 4)
        row["drift_cents"] = None if rec is None else round(rec - row["reported_cents"], 4)
    return sorted(out.values(), key=lambda r: (r["integration_id"], r["period_start"]))


def _billed_per_key(
    days: Iterable[Doc], by_key: Mapping[tuple[str, str], str]
) -> dict[tuple[str, str], tuple[float, str]]:
    """(integration id, day) -> the cost the provider itself reported for the integration's key
    (Anthropic's analytics cost; a cost row without `key` is organisation-wide, not a key's),
    and when it was synced."""
    billed: dict[tuple[str, str], tuple[float, str]] = {}
    for doc in days:
        if doc.get("kind") != "cost":
            continue
        for r in doc["rows"]:
            iid = by_key.get((doc["account_id"], r["key"])) if r.get("key") else None
            if iid is not None:
                before = billed.get((iid, doc["day"]), (0.0, ""))[0]
                billed[(iid, doc["day"])] = (before + r["cents"], doc["synced_at"])
    return billed


def _row(out: dict[tuple[str, str], Row], iid: str, day: str, synced_at: str) -> Row:
    row = out.get((iid, day))
    if row is None:
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        row = out[(iid, day)] = {
            "integration_id": iid,
            "period_start": to_iso(start),
            "period_end": to_iso(start + timedelta(days=1)),
            "recorded_cents": None,
            "reported_cents": 0.0,
            "reported_tokens": 0,
            "reported_from": "prices",  # the reported tokens priced with genai-prices
            "drift_cents": None,
            "synced_at": synced_at,
        }
    return row


def balance_rows(
    accounts: Mapping[str, str], balances: Mapping[str, Doc], burn7: Mapping[str, float]
) -> list[Row]:
    """Each account's balance and runway: days left at the last 7 days' average burn (None
    when nothing was spent, or the balance is not in dollars)."""
    rows = []
    for aid, doc in balances.items():
        if aid not in accounts:
            continue
        burn = doc.get("burn7_cents")
        burn = burn if burn is not None else burn7.get(aid)
        amount = float(doc.get("amount_cents") or 0)
        daily = (burn or 0) / RUNWAY_DAYS
        runway = round(amount / daily, 1) if daily > 0 and doc.get("currency") == "USD" else None
        rows.append(
            {
                "account": accounts[aid],
                "currency": doc.get("currency"),
                "balance_cents": round(amount, 4),
                "burn_7d_cents": None if burn is None else round(burn, 4),
                "runway_days": runway,
                "synced_at": doc.get("synced_at"),
            }
        )
    return sorted(rows, key=lambda r: r["account"])


def summary(rows: Iterable[Row], since: str) -> Row:
    """One integration's days from `since` (an ISO day start) on, added up: reported cents and
    tokens, and recorded cents and drift over the days whose recorded figure is known
    (`unknown_days` counts the others; their recorded figure is not 0, it is not known)."""
    chosen = [r for r in rows if r["period_start"] >= since]
    known = [r for r in chosen if r["recorded_cents"] is not None]
    return {
        "since": since,
        "days": len(chosen),
        "reported_cents": round(sum(r["reported_cents"] for r in chosen), 4),
        "reported_tokens": sum(r["reported_tokens"] for r in chosen),
        "recorded_cents": round(sum(r["recorded_cents"] for r in known), 4) if known else None,
        "drift_cents": round(sum(r["drift_cents"] for r in known), 4) if known else None,
        "unknown_days": len(chosen) - len(known),
        "synced_at": max((r["synced_at"] for r in chosen), default=None),
    }
