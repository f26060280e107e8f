"""The providers' admin endpoints, read-only, as rows byok stores.

Shapes as documented (read 2026-12):
* OpenAI: https://platform.openai.com/docs/api-reference/usage/completions (and the embeddings,
  moderations, images, audio_speeches and audio_transcriptions pages beside it),
  https://platform.openai.com/docs/api-reference/usage/costs (grouped by `api_key_id` as the
  official SDK, openai 3.57, offers),
  https://platform.openai.com/docs/api-reference/projects/list and
  https://platform.openai.com/docs/api-reference/project-api-keys/list
* Anthropic: https://docs.anthropic.com/en/api/admin-api/usage-cost/get-messages-usage-report,
  https://docs.anthropic.com/en/api/admin-api/usage-cost/get-cost-report and
  https://docs.anthropic.com/en/api/admin-api/apikeys/list-api-keys
* OpenRouter: https://openrouter.ai/docs/api-reference/get-credits and
  https://openrouter.ai/docs/api-reference/api-keys/get-current-key
* DeepSeek: https://api-docs.deepseek.com/api/get-user-balance

A usage row is {key, model, start (ISO hour), in, out, cached, cache_write, req}; a cost row
{day, cents, item}. Errors are SyncError with the status and the route, never a body (a provider
may echo the credential in it) and never the credential.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from core.errors import IntegrationError

ANTHROPIC_VERSION = "2023-06-01"
MAX_PAGES = 10_000  # a provider whose next_page never ends is a bug, not a reason to loop forever
Params = dict[str, Any]
Row = dict[str, Any]


class SyncError(IntegrationError):
    """A provider's admin API could not be read; nothing of the window was written. `status` is
    the HTTP status when the provider answered with one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminClient:
    """One account's admin API: its headers, bounded waits on 429, an error for anything else."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        max_wait_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.now = now
        self.client = httpx.Client(headers=dict(headers), timeout=timeout_s)
        self.retries, self.max_wait_s, self.sleep = retries, max_wait_s, sleep
        self.routes: set[str] = set()  # the paths that answered, for the sync's report
        self.refused: set[str] = set()  # the paths a provider does not offer this account

    def close(self) -> None:
        self.client.close()

    def get(
        self, path: str, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        for attempt in range(self.retries + 1):
            try:
                resp = self.client.get(self.base_url + path, params=params, headers=headers)
            except httpx.HTTPError as exc:
                raise SyncError(f"GET {path}: {type(exc).__name__}") from None
            if resp.status_code == 429 and attempt < self.retries:
                wait = _retry_after(resp.headers.get("retry-after"), attempt)
                if wait > self.max_wait_s:
                    raise SyncError(f"GET {path}: 429, retry after {wait:g} s (too long)")
                self.sleep(wait)
                continue
            if resp.status_code != 200:
                raise SyncError(f"GET {path}: HTTP {resp.status_code}", resp.status_code)
            try:
                body = resp.json()
            except ValueError:
                raise SyncError(f"GET {path}: the answer is not JSON") from None
            self.routes.add(path)
            return body
        raise SyncError(f"GET {path}: still 429 after {self.retries} retries")

    def pages(
        self,
        path: str,
        params: Params,
        cursor: str,
        after: str,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """The `data` items of every page: `has_more` plus the cursor field `after` of the
        answer, sent back as the parameter `cursor`."""
        query = dict(params)
        for _ in range(MAX_PAGES):
            body = self.get(path, query, headers)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise SyncError(f"GET {path}: the answer has no data list")
            yield from body["data"]
            nxt = body.get(after)
            if not body.get("has_more") or not nxt:
                return
            query[cursor] = nxt
        raise SyncError(f"GET {path}: more than {MAX_PAGES} pages")


def _retry_after(raw: str | None, attempt: int) -> float:
    try:
        return max(0.0, float(raw)) if raw is not None else float(2**attempt)
    except ValueError:
        return float(2**attempt)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def headers_for(provider: str, secret: str) -> dict[str, str]:
    if provider == "anthropic":
        return {"x-api-key": secret, "anthropic-version": ANTHROPIC_VERSION}
    return {"authorization": f"Bearer {secret}"}


# -- OpenAI -------------------------------------------------------------------------------------


# The usage endpoints grouped by API key and model (the SDK's `admin.organization.usage`, openai
# 3.57): tokens from completions, embeddings and moderations (input only), requests from all of
# them (images, audio_speeches and audio_transcriptions count images, characters and seconds,
# which byok cannot price: their cost per key is in the Costs API); vector_stores,
# code_interpreter_sessions and the file and web search calls group by project only, never by key.
OPENAI_USAGE = (
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio_speeches",
    "audio_transcriptions",
)


def openai_usage(client: AdminClient, start: datetime, end: datetime) -> Iterator[Row]:
    """Hourly usage per API key and model of every endpoint in OPENAI_USAGE."""
    params: Params = {
        "start_time": int(start.timestamp()),
        "end_time": int(end.timestamp()),
        "bucket_width": "1h",
        "group_by": ["api_key_id", "model"],
        "limit": 168,
    }
    for endpoint in OPENAI_USAGE:
        path = f"/organization/usage/{endpoint}"
        yield from _openai_buckets(client.pages(path, params, "page", "next_page"))


def _openai_buckets(buckets: Iterator[Any]) -> Iterator[Row]:
    for bucket in buckets:
        at = _hour(datetime.fromtimestamp(int(bucket["start_time"]), UTC))
        for r in bucket.get("results") or ():
            yield {
                "key": r.get("api_key_id"),
                "model": r.get("model") or "",
                "start": at,
                "in": _int(r.get("input_tokens")),
                "out": _int(r.get("output_tokens")),
                "cached": _int(r.get("input_cached_tokens")),
                "cache_write": 0,
                "req": _int(r.get("num_model_requests")),
            }


def openai_costs(client: AdminClient, start: datetime, end: datetime) -> Iterator[Row]:
    """Daily cost per API key (`key`; None for spend no key made, such as file storage) and
    line item: the provider's own figure, for every endpoint."""
    params: Params = {
        "start_time": int(start.timestamp()),
        "end_time": int(end.timestamp()),
        "bucket_width": "1d",  # the only width the Costs API offers
        "group_by": ["api_key_id", "line_item"],
        "limit": 31,
    }
    for bucket in client.pages("/organization/costs", params, "page", "next_page"):
        day = datetime.fromtimestamp(int(bucket["start_time"]), UTC).strftime("%Y-%m-%d")
        for r in bucket.get("results") or ():
            amount = r.get("amount") or {}
            yield {
                "day": day,
                "cents": float(amount.get("value") or 0) * 100,  # dollars
                "item": r.get("line_item"),
                "key": r.get("api_key_id"),
            }


def openai_keys(client: AdminClient) -> list[tuple[str, str]]:
    """(key id, redacted value) of every project API key of the organization."""
    found: list[tuple[str, str]] = []
    for project in client.pages("/organization/projects", {"limit": 100}, "after", "last_id"):
        path = f"/organization/projects/{project['id']}/api_keys"
        for key in client.pages(path, {"limit": 100}, "after", "last_id"):
            if isinstance(key.get("id"), str) and isinstance(key.get("redacted_value"), str):
                found.append((key["id"], key["redacted_value"]))
    return found


# -- Anthropic ----------------------------------------------------------------------------------


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def anthropic_usage(client: AdminClient, start: datetime, end: datetime) -> Iterator[Row]:
    params: Params = {
        "starting_at": _rfc3339(start),
        "ending_at": _rfc3339(end),
        "bucket_width": "1h",
        "group_by[]": ["api_key_id", "model"],
        "limit": 168,
    }
    path = "/v1/organizations/usage_report/messages"
    for bucket in client.pages(path, params, "page", "next_page"):
        at = _hour(datetime.fromisoformat(str(bucket["starting_at"]).replace("Z", "+00:00")))
        for r in bucket.get("results") or ():
            creation = r.get("cache_creation") or {}
            written = sum(_int(n) for n in creation.values())
            read = _int(r.get("cache_read_input_tokens"))
            yield {
                "key": r.get("api_key_id"),
                "model": r.get("model") or "",
                "start": at,
                # byok counts input with its cached parts, as OpenAI reports it
                "in": _int(r.get("uncached_input_tokens")) + read + written,
                "out": _int(r.get("output_tokens")),
                "cached": read,
                "cache_write": written,
                "req": 0,  # not reported
            }


def anthropic_costs(client: AdminClient, start: datetime, end: datetime) -> Iterator[Row]:
    params: Params = {
        "starting_at": _rfc3339(start),
        "ending_at": _rfc3339(end),
        "group_by[]": ["description"],
        "limit": 31,
    }
    for bucket in client.pages("/v1/organizations/cost_report", params, "page", "next_page"):
        day = str(bucket["starting_at"])[:10]
        for r in bucket.get("results") or ():
            # "amount": a decimal string in the currency's lowest unit (cents)
            yield {"day": day, "cents": float(r.get("amount") or 0), "item": r.get("description")}


def anthropic_keys(client: AdminClient) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key in client.pages("/v1/organizations/api_keys", {"limit": 100}, "after_id", "last_id"):
        if isinstance(key.get("id"), str) and isinstance(key.get("partial_key_hint"), str):
            found.append((key["id"], key["partial_key_hint"]))
    return found


# -- OpenRouter and DeepSeek: balances ----------------------------------------------------------


def openrouter_credits(client: AdminClient) -> tuple[str, float]:
    data = (client.get("/credits") or {}).get("data") or {}
    total = float(data.get("total_credits") or 0) - float(data.get("total_usage") or 0)
    return "USD", total * 100


def openrouter_key(client: AdminClient) -> tuple[float, float]:
    """Today's and the last 7 days' usage of the key the client presents, in cents."""
    data = (client.get("/key") or {}).get("data") or {}
    return float(data.get("usage_daily") or 0) * 100, float(data.get("usage_weekly") or 0) * 100


def deepseek_balance(client: AdminClient) -> tuple[str, float]:
    infos = (client.get("/user/balance") or {}).get("balance_infos") or []
    if not infos:
        raise SyncError("GET /user/balance: no balance_infos")
    first = infos[0]  # one entry per currency; the account's own comes first
    return str(first.get("currency") or "?"), float(first.get("total_balance") or 0) * 100
