"""Anthropic's usage and cost: the Usage and Cost Analytics API where it can answer, the legacy
Admin API reports where it cannot.

Anthropic marks `usage_report/messages` and `cost_report` legacy and points new integrations to
`GET /v1/organizations/analytics/usage` and `/analytics/cost`
(https://platform.claude.com/docs/en/manage-claude/usage-cost-analytics-api; the official SDK's
`client.beta.organization.analytics`, anthropic 2.15, read as the oracle for the shapes). What it
adds for byok: the cost per API key (`group_by[]=api_key_id`), the provider's own figure, where
the legacy cost report is per organisation or workspace only; and request counts.

Its rules, as documented: a beta header on every request; `starting_at` no earlier than
2026-01-01 and within the last 365 days; `ending_at` required with `time_bucket_width`; at most
31 days a request; rows (one per bucket and group) paged by `next_page`, sent back as `page`.
So a window that starts before the analytics floor is read from the legacy reports, and so is
every window of an organisation the analytics API refuses (403: the key may not read it; 404:
not offered there). Anything else (429, 5xx, a bad page) fails the window as in core.spend.sync.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.spend import providers as p

BETA = {"anthropic-beta": "analytics-usage-cost-2026-08-24"}
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)  # the analytics API holds nothing before
HISTORY = timedelta(days=365)
NOT_OFFERED = (403, 404)
USAGE = "/v1/organizations/analytics/usage"
COST = "/v1/organizations/analytics/cost"
PAGE_ROWS = 1000  # the documented maximum `limit`


def floor(now: datetime) -> datetime:
    """The earliest instant the analytics API answers for, seen at `now` (a day start, so a
    window that starts there stays inside the 365 days while it is read)."""
    day = (now - HISTORY + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(FIRST_DAY, day)


def usage(client: p.AdminClient, start: datetime, end: datetime) -> list[p.Row]:
    """Hourly token usage per API key and model: analytics, else the legacy report."""
    rows = _analytics(client, start, end, USAGE, _usage_rows)
    return p.anthropic_usage(client, start, end) if rows is None else rows


def costs(client: p.AdminClient, start: datetime, end: datetime) -> list[p.Row]:
    """Daily cost per API key (`key`; None for spend no key authenticated, such as the Console's
    workbench): analytics, else the legacy report (per organisation, no `key`)."""
    rows = _analytics(client, start, end, COST, _cost_rows)
    return p.anthropic_costs(client, start, end) if rows is None else rows


def _analytics(
    client: p.AdminClient, start: datetime, end: datetime, path: str, read: Any
) -> list[p.Row] | None:
    if start < floor(client.now()) or path in client.refused:
        return None
    try:
        return read(client, start, end)
    except p.SyncError as exc:
        if exc.status not in NOT_OFFERED:
            raise
        client.refused.add(path)  # asked once a sync, not once a window
        return None


def _params(start: datetime, end: datetime, width: str, group: list[str]) -> p.Params:
    return {
        "starting_at": _rfc3339(start),
        "ending_at": _rfc3339(end),
        "time_bucket_width": width,
        "group_by[]": group,
        "limit": PAGE_ROWS,
    }


def _usage_rows(client: p.AdminClient, start: datetime, end: datetime) -> list[p.Row]:
    params = _params(start, end, "1h", ["api_key_id", "model"])
    rows: list[p.Row] = []
    for item in client.pages(USAGE, params, "page", "next_page", BETA):
        group, use = item.get("group") or {}, item.get("usage") or {}
        creation = use.get("cache_creation") or {}
        written = sum(p._int(n) for n in creation.values())
        read = p._int(use.get("cache_read_input_tokens"))
        rows.append(
            {
                "key": group.get("api_key_id"),
                "model": group.get("model") or "",
                "start": _hour(item["starting_at"]),
                # byok counts input with its cached parts, as OpenAI reports it
                "in": p._int(use.get("uncached_input_tokens")) + read + written,
                "out": p._int(use.get("output_tokens")),
                "cached": read,
                "cache_write": written,
                "req": p._int(use.get("requests")),
            }
        )
    return rows


def _cost_rows(client: p.AdminClient, start: datetime, end: datetime) -> list[p.Row]:
    params = _params(start, end, "1d", ["api_key_id"])
    rows: list[p.Row] = []
    for item in client.pages(COST, params, "page", "next_page", BETA):
        cost = item.get("cost") or {}
        if cost.get("currency") != "USD":  # documented as always USD: anything else is news
            raise p.SyncError(f"GET {COST}: a cost in {str(cost.get('currency'))[:8]!r}")
        rows.append(
            {
                "day": str(item["starting_at"])[:10],
                # "amount": post-discount, pre-credit, a decimal string in fractional cents
                "cents": float(cost.get("amount") or 0),
                "item": None,
                "key": (item.get("group") or {}).get("api_key_id"),
            }
        )
    return rows


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour(text: Any) -> str:
    return p._hour(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
