"""The providers' admin (usage, cost, key list, balance) endpoints for the fake provider server.

Stdlib only, no `core`: written from the providers' docs, so a client that sends the wrong
parameters or misreads a page fails here as it would for real. The shapes:
* OpenAI usage: https://platform.openai.com/docs/api-reference/usage/completions (a "page" of
  "bucket"s with start_time/end_time and results grouped by api_key_id and model; has_more and
  next_page, sent back as `page`), and the embeddings, moderations, images, audio_speeches and
  audio_transcriptions endpoints beside it (their result objects as in the official SDK, openai
  3.57: tokens, images, characters or seconds, and num_model_requests); costs:
  https://platform.openai.com/docs/api-reference/usage/costs (amount {value, currency} in
  dollars, 1d buckets only, grouped by api_key_id when asked), projects and their API keys
  (`redacted_value`): https://platform.openai.com/docs/api-reference/project-api-keys/list
* Anthropic usage: https://docs.anthropic.com/en/api/admin-api/usage-cost/get-messages-usage-report
  (data of {starting_at, ending_at, results}, `group_by[]`, has_more/next_page as `page`), cost:
  https://docs.anthropic.com/en/api/admin-api/usage-cost/get-cost-report (amount: a decimal
  string in cents), keys (`partial_key_hint`, after_id/last_id):
  https://docs.anthropic.com/en/api/admin-api/apikeys/list-api-keys
* Anthropic's Usage and Cost Analytics API (beta):
  https://platform.claude.com/docs/en/manage-claude/usage-cost-analytics-api, shapes as in the
  official SDK (anthropic 2.15, `beta.organization.analytics.usage/cost.list`): flat rows of
  {starting_at, ending_at, group {api_key_id, model, ...}, usage {...} | cost {amount, currency,
  list_amount, requests}}, one per bucket and group, `limit` rows a page, has_more/next_page;
  the `anthropic-beta: analytics-usage-cost-2026-08-24` header required, and the documented
  400s (starting_at before 2026-01-01 or, when `now` is set, older than 365 days; no ending_at
  with time_bucket_width; a range over 31 days). `analytics = False` answers 404, as an
  organisation without it would.
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

Answer = tuple[int, Any, dict[str, str]]
ENDPOINTS_BY_KEY = ("embeddings", "moderations", "images", "audio_speeches",
                    "audio_transcriptions")  # fmt: skip  # OpenAI's, beside completions
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
    endpoint: str = "completions"  # OpenAI's usage endpoint (OPENAI_USAGE)
    units: int = 0  # images, characters or seconds, for the endpoints that count those


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
    analytics: bool = True  # Anthropic's analytics API offered (else 404)
    key_costs: dict[str, dict[tuple[str, str | None], float]] = field(
        default_factory=lambda: {"openai": {}, "anthropic": {}}
    )  # (day, api key id or None) -> cents: the costs grouped by api_key_id (OpenAI's costs,
    # Anthropic's analytics cost); `costs` is what no key made, on top
    now: Any = None  # () -> datetime: when set, the analytics 365-day rule is checked against it
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
            return 200, self._usage(provider, q, page, sub.rsplit("/", 1)[1]), {}
        if route == "cost":
            return 200, self._cost(provider, q, page), {}
        if route in ("analytics_usage", "analytics_cost"):
            return self._analytics(route, q, headers, page)
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
            results = self._cost_results(provider, day, q)
            buckets.append(_bucket(provider, b, b + DAY, results))
        return _paged(provider, buckets, (page + 1) * limit < len(starts), page + 1)

    def day_costs(self, provider: str, day: str) -> dict[str | None, float]:
        """A day's cost per API key (None: what no key made), the keys' and `costs` together."""
        found: dict[str | None, float] = {}
        for (d, key), cents in sorted(self.key_costs[provider].items(), key=str):
            if d == day:
                found[key] = found.get(key, 0.0) + cents
        if day in self.costs[provider]:
            found[None] = found.get(None, 0.0) + self.costs[provider][day]
        return found

    def _cost_results(self, provider: str, day: str, q: dict[str, list[str]]) -> list[Any]:
        found = self.day_costs(provider, day)
        if provider == "openai" and "api_key_id" in (q.get("group_by") or []):
            return [_cost_result(provider, cents, key) for key, cents in found.items()]
        return [_cost_result(provider, sum(found.values()))] if found else []

    def _analytics(self, route: str, q: dict[str, list[str]], headers: Any, page: int) -> Answer:
        if not self.analytics:
            return 404, _error("not_found_error", "Not found"), {}
        problem = _analytics_problem(q, headers, self.now)
        if problem:
            return 400, _error("invalid_request_error", problem), {}
        start, end = _window("anthropic", q)
        width = {"1d": DAY, "1h": HOUR, "1m": 60}[q["time_bucket_width"][0]]
        group = q.get("group_by[]") or []
        rows: list[dict[str, Any]] = []
        for b in range(start - start % width, end, width):
            stop = min(b + width, end)
            if route == "analytics_usage":
                found = self._uses("anthropic", b, stop)
                calls = Counter(_group_key(u, group) for u in found)  # a Use is one request
                for r in _grouped("anthropic", found, group, "messages"):
                    n = calls[(r["api_key_id"], r["model"])]
                    rows.append(_analytics_usage_row(b, stop, r, group, n))
            else:
                day = datetime.fromtimestamp(b, UTC).strftime("%Y-%m-%d")
                for key, cents in self.day_costs("anthropic", day).items() if width == DAY else ():
                    rows.append(_analytics_cost_row(b, stop, key, cents, group))
        limit = min(int((q.get("limit") or ["20"])[0]), self.page_size)
        chosen = rows[page * limit : (page + 1) * limit]
        return 200, _paged("anthropic", chosen, (page + 1) * limit < len(rows), page + 1), {}


def _analytics_problem(q: dict[str, list[str]], headers: Any, now: Any) -> str | None:
    if "analytics-usage-cost-2026-08-24" not in (headers.get("anthropic-beta") or ""):
        return "this endpoint requires the anthropic-beta header analytics-usage-cost-2026-08-24"
    if not q.get("starting_at"):
        return "starting_at: field required"
    if q.get("time_bucket_width") and not q.get("ending_at"):
        return "ending_at is required when time_bucket_width is set"
    if (q.get("time_bucket_width") or [""])[0] not in ("1d", "1h", "1m"):
        return "time_bucket_width: one of 1d, 1h, 1m (required by this fake)"
    start, end = _stamp(q["starting_at"][0]), _stamp(q["ending_at"][0])
    if start < _stamp("2026-01-01T00:00:00Z"):
        return "starting_at must be no earlier than 2026-01-01T00:00:00Z"
    if now is not None and start < now().timestamp() - 365 * DAY:
        return "starting_at must be within the last 365 days"
    if end - start > 31 * DAY:
        return "the range may span at most 31 days"
    if not 1 <= int((q.get("limit") or ["20"])[0]) <= 1000:
        return "limit: between 1 and 1000"
    if len(q.get("group_by[]") or []) > 5:
        return "group_by: at most 5 dimensions"
    return None


def _analytics_group(group: list[str], key: str | None, model: str | None) -> dict[str, Any]:
    dims = ("actor", "actor_type", "agent_id", "api_key_id", "context_window", "inference_geo",
            "model", "product", "service_tier", "speed", "workspace_id")  # fmt: skip
    out: dict[str, Any] = dict.fromkeys(dims)
    out["api_key_id"] = key if "api_key_id" in group else None
    out["model"] = model if "model" in group else None
    return out


def _analytics_usage_row(
    start: int, end: int, r: dict[str, Any], group: list[str], requests: int
) -> dict[str, Any]:
    use = {k: r[k] for k in ("uncached_input_tokens", "cache_read_input_tokens",
                             "cache_creation", "output_tokens", "server_tool_use")}  # fmt: skip
    use["total_tokens"] = (
        r["uncached_input_tokens"] + r["cache_read_input_tokens"] + use["output_tokens"]
    )
    use["requests"] = requests
    where = _analytics_group(group, r["api_key_id"], r["model"])
    return {"starting_at": _iso(start), "ending_at": _iso(end), "group": where, "usage": use}


def _analytics_cost_row(
    start: int, end: int, key: str | None, cents: float, group: list[str]
) -> dict[str, Any]:
    cost = {"amount": f"{cents:.6f}", "currency": "USD", "list_amount": f"{cents:.6f}",
            "requests": None}  # fmt: skip
    return {"starting_at": _iso(start), "ending_at": _iso(end),
            "group": _analytics_group(group, key, None), "cost": cost}  # fmt: skip


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _route(provider: str, sub: str) -> str | None:
    if provider == "openai":
        usage, _, endpoint = sub.rpartition("/")
        if usage == "/organization/usage" and endpoint in ("completions", *ENDPOINTS_BY_KEY):
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
            "/v1/organizations/analytics/usage": "analytics_usage",
            "/v1/organizations/analytics/cost": "analytics_cost",
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


def _group_key(u: Use, group: list[str]) -> tuple[str | None, str | None]:
    return (u.key_id if "api_key_id" in group else None, u.model if "model" in group else None)


def _grouped(
    provider: str, found: list[Use], group: list[str], endpoint: str
) -> list[dict[str, Any]]:
    sums: dict[tuple[str | None, str | None], list[int]] = {}
    for u in found:
        acc = sums.setdefault(_group_key(u, group), [0, 0, 0, 0, 0])
        for i, n in enumerate((u.input, u.output, u.cached, 1, u.units)):
            acc[i] += n
    out = []
    for (key, model), (inp, outp, cached, n, units) in sorted(sums.items(), key=str):
        if provider == "openai":
            out.append(_openai_result(endpoint, key, model, inp, outp, cached, n, units))
        else:
            out.append({"uncached_input_tokens": inp - cached, "cache_read_input_tokens": cached,
                        "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                           "ephemeral_5m_input_tokens": 0},
                        "output_tokens": outp, "server_tool_use": {"web_search_requests": 0},
                        "api_key_id": key, "model": model, "workspace_id": None,
                        "service_tier": None, "context_window": None})  # fmt: skip
    return out


# What each OpenAI usage endpoint counts beside num_model_requests (its result object's fields).
OPENAI_UNITS = {"images": "images", "audio_speeches": "characters",
                "audio_transcriptions": "seconds"}  # fmt: skip


def _openai_result(
    endpoint: str, key: str | None, model: str | None, *counts: int
) -> dict[str, Any]:
    inp, outp, cached, n, units = counts
    body: dict[str, Any] = {"object": f"organization.usage.{endpoint}.result",
                            "num_model_requests": n, "api_key_id": key, "model": model,
                            "project_id": None, "user_id": None}  # fmt: skip
    if endpoint == "completions":
        body.update(input_tokens=inp, output_tokens=outp, input_cached_tokens=cached, batch=None)
    elif endpoint in ("embeddings", "moderations"):
        body["input_tokens"] = inp
    else:
        body[OPENAI_UNITS[endpoint]] = units
        if endpoint == "images":
            body.update(size=None, source=None)
    return body


def _cost_result(provider: str, cents: float, key: str | None = None) -> dict[str, Any]:
    if provider == "openai":
        return {"object": "organization.costs.result", "amount": {"value": cents / 100,
                "currency": "usd"}, "line_item": None, "project_id": None,
                "api_key_id": key}  # fmt: skip
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
