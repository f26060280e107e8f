"""The providers' admin (usage, cost, key list, balance) endpoints for the fake provider server.

Stdlib only, no `core`: written from the providers' docs, so a client that sends the wrong
parameters or misreads a page fails here as it would for real. The shapes:
* OpenAI usage: https://platform.openai.com/docs/api-reference/usage/completions (a "page" of
  "bucket"s with start_time/end_time and results grouped by api_key_id and model; has_more and
  next_page, sent back as `page`), likewise .../usage/embeddings and .../usage/moderations (their
  results: input_tokens and num_model_requests only; openai/openai-openapi's openapi.yaml,
  UsageEmbeddingsResult and UsageModerationsResult), costs: https://platform.openai.com/docs/api-reference/usage/costs
  (amount {value, currency} in dollars, 1d buckets only), projects and their API keys
  (`redacted_value`): https://platform.openai.com/docs/api-reference/project-api-keys/list
* Anthropic usage: https://docs.anthropic.com/en/api/admin-api/usage-cost/get-messages-usage-report
  (data of {starting_at, ending_at, results}, `group_by[]`, has_more/next_page as `page`), cost:
  https://docs.anthropic.com/en/api/admin-api/usage-cost/get-cost-report (amount: a decimal
  string in cents), keys (`partial_key_hint`, after_id/last_id):
  https://docs.anthropic.com/en/api/admin-api/apikeys/list-api-keys
* OpenRouter: https://openrouter.ai/docs/api-reference/get-credits and
  https://openrouter.ai/docs/api-reference/api-keys/get-current-key (usage_daily, usage_weekly)
* DeepSeek: https://api-docs.deepseek.com/api/get-user-balance

Usage comes from `usage` (a list per provider), or from `source(provider, start, end)` when set:
the uses of [start, end) in Unix seconds, made on demand (the benchmark's 90 days of hourly
buckets for 100 keys x 5 models would be a million objects held).

Faults: `fail(provider, route, outcome, page=N, times=1)` answers the N-th page (0-based) of that
route with `outcome` ("429:SECONDS", "500", "503") `times` times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

Answer = tuple[int, Any, dict[str, str]]
OPENAI_USAGE = {f"/organization/usage/{e}" for e in ("completions", "embeddings", "moderations")}
HOUR = 3600
DAY = 86400


@dataclass
class Use:
    """One hour of one key and model."""

    at: datetime
    key_id: str
    model: str
    input: int
    output: int
    cached: int = 0
    endpoint: str = "completions"  # OpenAI's usage endpoint: completions, embeddings, moderations


@dataclass
class FakeAdmin:
    openai_keys: list[tuple[str, str, str]] = field(default_factory=list)  # project, id, redacted
    anthropic_keys: list[tuple[str, str]] = field(default_factory=list)  # id, partial_key_hint
    usage: dict[str, list[Use]] = field(default_factory=lambda: {"openai": [], "anthropic": []})
    costs: dict[str, dict[str, float]] = field(
        default_factory=lambda: {"openai": {}, "anthropic": {}}
    )  # day "YYYY-MM-DD" -> cents
    credits: tuple[float, float] = (100.0, 25.0)  # OpenRouter total_credits, total_usage ($)
    key_usage: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> day, week $
    balance: tuple[str, str] = ("USD", "110.00")  # DeepSeek currency, total_balance
    source: Callable[[str, int, int], list[Use]] | None = None
    page_size: int = 24  # buckets per page at most, whatever `limit` asks
    faults: dict[tuple[str, str, int], list[Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self, provider: str, route: str, outcome: str, *, page: int = 0, times: int = 1
    ) -> None:
        with self.lock:
            self.faults[(provider, route, page)] = [outcome, times]

    def answer(self, provider: str, sub: str, query: str, headers: Any) -> Answer | None:
        """The answer to an admin route, or None when `sub` is not one (the probe routes)."""
        route = _route(provider, sub)
        if provider == "openrouter" and sub == "/key" and _bearer(headers) in self.key_usage:
            route = "key"  # a key given usage here; any other /key is the probe's route
        if route is None:
            return None
        problem = _auth(provider, headers)
        if problem:
            return 401, {"error": {"message": problem, "type": "authentication_error"}}, {}
        q = parse_qs(query)
        page = int((q.get("page") or ["0"])[0].removeprefix("page_") or 0)
        fault = self._fault(provider, route, page)
        if fault is not None:
            return fault
        return self._body(provider, route, sub, q, headers, page)

    def _fault(self, provider: str, route: str, page: int) -> Answer | None:
        with self.lock:
            entry = self.faults.get((provider, route, page))
            if not entry or entry[1] <= 0:
                return None
            entry[1] -= 1
        name, _, arg = str(entry[0]).partition(":")
        if name == "429":
            return 429, {"error": {"message": "rate limited"}}, {"retry-after": arg or "1"}
        return int(name), {"error": {"message": "server error"}}, {}

    def _body(
        self, provider: str, route: str, sub: str, q: dict[str, list[str]], headers: Any, page: int
    ) -> Answer:
        if route == "usage":
            return 200, self._usage(provider, q, page, sub.rsplit("/", 1)[-1]), {}
        if route == "cost":
            return 200, self._cost(provider, q, page), {}
        if route == "projects":
            projects = sorted({p for p, _, _ in self.openai_keys})
            data = [{"object": "organization.project", "id": p, "name": p} for p in projects]
            return 200, _listing(data), {}
        if route == "project_keys":
            project = sub.split("/")[3]
            data = [
                {"object": "organization.project.api_key", "id": k, "redacted_value": r,
                 "name": k, "created_at": 1700000000}
                for p, k, r in self.openai_keys
                if p == project
            ]  # fmt: skip
            return 200, _listing(data), {}
        if route == "anthropic_keys":
            data = [
                {"type": "api_key", "id": k, "partial_key_hint": h, "name": k, "status": "active"}
                for k, h in self.anthropic_keys
            ]
            return 200, _listing(data), {}
        if route == "credits":
            total, used = self.credits
            return 200, {"data": {"total_credits": total, "total_usage": used}}, {}
        if route == "key":
            daily, weekly = self.key_usage[_bearer(headers)]
            data = {
                "label": "sk-or-v1-…",
                "limit": None,
                "usage": weekly,
                "usage_daily": daily,
                "usage_weekly": weekly,
                "usage_monthly": weekly,
                "is_free_tier": False,
            }
            return 200, {"data": data}, {}
        currency, total = self.balance
        info = {"currency": currency, "total_balance": total, "granted_balance": "0.00",
                "topped_up_balance": total}  # fmt: skip
        return 200, {"is_available": True, "balance_infos": [info]}, {}

    def _usage(
        self, provider: str, q: dict[str, list[str]], page: int, endpoint: str
    ) -> dict[str, Any]:
        start, end = _window(provider, q)
        width = HOUR if (q.get("bucket_width") or ["1d"])[0] == "1h" else DAY
        group = q.get("group_by") or q.get("group_by[]") or []
        starts = list(range(start, end, width))
        limit = min(int((q.get("limit") or ["7"])[0]), self.page_size)
        chosen = starts[page * limit : (page + 1) * limit]
        buckets = []
        for b in chosen:
            uses = self._uses(provider, b, min(b + width, end))
            if provider == "openai":
                uses = [u for u in uses if u.endpoint == endpoint]
            results = _grouped(provider, uses, group, endpoint)
            buckets.append(_bucket(provider, b, min(b + width, end), results))
        return _paged(provider, buckets, (page + 1) * limit < len(starts), page + 1)

    def _uses(self, provider: str, start: int, end: int) -> list[Use]:
        if self.source is not None:
            return self.source(provider, start, end)
        return [u for u in self.usage[provider] if start <= int(u.at.timestamp()) < end]

    def _cost(self, provider: str, q: dict[str, list[str]], page: int) -> dict[str, Any]:
        start, end = _window(provider, q)
        starts = list(range(start - start % DAY, end, DAY))
        limit = min(int((q.get("limit") or ["7"])[0]), self.page_size)
        chosen = starts[page * limit : (page + 1) * limit]
        buckets = []
        for b in chosen:
            day = datetime.fromtimestamp(b, UTC).strftime("%Y-%m-%d")
            cents = self.costs[provider].get(day)
            results = [] if cents is None else [_cost_result(provider, cents)]
            buckets.append(_bucket(provider, b, b + DAY, results))
        return _paged(provider, buckets, (page + 1) * limit < len(starts), page + 1)


def _route(provider: str, sub: str) -> str | None:
    if provider == "openai":
        if sub in OPENAI_USAGE:
            return "usage"
        if sub == "/organization/costs":
            return "cost"
        if sub == "/organization/projects":
            return "projects"
        parts = sub.split("/")
        if (
            len(parts) == 5
            and parts[1:3] == ["organization", "projects"]
            and parts[4] == "api_keys"
        ):
            return "project_keys"
    if provider == "anthropic":
        return {
            "/v1/organizations/usage_report/messages": "usage",
            "/v1/organizations/cost_report": "cost",
            "/v1/organizations/api_keys": "anthropic_keys",
        }.get(sub)
    if provider == "openrouter" and sub == "/credits":
        return "credits"
    if provider == "deepseek" and sub == "/user/balance":
        return "balance"
    return None


def _bearer(headers: Any) -> str:
    auth = headers.get("authorization") or ""
    return auth[7:] if auth.lower().startswith("bearer ") else ""


def _auth(provider: str, headers: Any) -> str | None:
    if provider == "anthropic":
        if not headers.get("anthropic-version"):
            return "anthropic-version header required"
        return None if headers.get("x-api-key") else "x-api-key header required"
    return None if _bearer(headers) else "Authorization: Bearer <key> required"


def _stamp(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _window(provider: str, q: dict[str, list[str]]) -> tuple[int, int]:
    now = int(datetime.now(UTC).timestamp())
    if provider == "openai":
        start = int(q["start_time"][0])
        return start, int((q.get("end_time") or [now])[0])
    return _stamp(q["starting_at"][0]), _stamp((q.get("ending_at") or [""])[0] or _iso(now))


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _grouped(
    provider: str, found: list[Use], group: list[str], endpoint: str
) -> list[dict[str, Any]]:
    sums: dict[tuple[str | None, str | None], list[int]] = {}
    for u in found:
        k = (u.key_id if "api_key_id" in group else None, u.model if "model" in group else None)
        acc = sums.setdefault(k, [0, 0, 0, 0])
        for i, n in enumerate((u.input, u.output, u.cached, 1)):
            acc[i] += n
    out = []
    for (key, model), (inp, outp, cached, n) in sorted(sums.items(), key=str):
        if provider == "openai" and endpoint != "completions":
            out.append({"object": f"organization.usage.{endpoint}.result", "input_tokens": inp,
                        "num_model_requests": n, "api_key_id": key, "model": model,
                        "project_id": None, "user_id": None})  # fmt: skip
        elif provider == "openai":
            out.append({"object": "organization.usage.completions.result", "input_tokens": inp,
                        "output_tokens": outp, "input_cached_tokens": cached,
                        "num_model_requests": n, "api_key_id": key, "model": model,
                        "project_id": None, "user_id": None, "batch": None})  # fmt: skip
        else:
            out.append({"uncached_input_tokens": inp - cached, "cache_read_input_tokens": cached,
                        "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                           "ephemeral_5m_input_tokens": 0},
                        "output_tokens": outp, "server_tool_use": {"web_search_requests": 0},
                        "api_key_id": key, "model": model, "workspace_id": None,
                        "service_tier": None, "context_window": None})  # fmt: skip
    return out


def _cost_result(provider: str, cents: float) -> dict[str, Any]:
    if provider == "openai":
        return {"object": "organization.costs.result", "amount": {"value": cents / 100,
                "currency": "usd"}, "line_item": None, "project_id": None}  # fmt: skip
    return {"currency": "USD", "amount": f"{cents:.4f}", "description": None, "cost_type": None,
            "workspace_id": None, "model": None, "token_type": None}  # fmt: skip


def _bucket(provider: str, start: int, end: int, results: list[Any]) -> dict[str, Any]:
    if provider == "openai":
        return {"object": "bucket", "start_time": start, "end_time": end, "results": results}
    return {"starting_at": _iso(start), "ending_at": _iso(end), "results": results}


def _paged(provider: str, data: list[Any], more: bool, nxt: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "data": data,
        "has_more": more,
        "next_page": f"page_{nxt}" if more else None,
    }
    if provider == "openai":
        body["object"] = "page"
    return body


def _listing(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}  # fmt: skip
