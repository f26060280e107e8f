"""The Prometheus exposition of a database: rendered after each round, served as it is.

A scrape is a read of bytes rendered earlier (never a probe, a sync or a file read), so it stays
cheap at any size and never waits for the watcher's work. Names follow Prometheus conventions
(`byok_` prefix, `_total` counters, seconds); money is in cents, as byok stores it. Every
per-integration series has the labels `tenant`, `integration` (the name) and `provider`.
docs/metrics.md lists them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.enums import Decision, HealthState
from core.readmodels import LimitFigures, Row
from core.watch.spendrules import Balance
from core.watch.spendview import ReportedFigures

LABELS = ("tenant", "integration", "provider")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Sample:
    tenant: str
    row: Row
    figures: LimitFigures | None
    decision: Decision | None
    reported: ReportedFigures | None = None  # from the provider spend sync, when linked


def _gauges() -> dict[str, tuple[str, Any]]:
    """name -> (help, the value of a sample, or None to leave its series out)."""

    def fig(name: str) -> Any:
        return lambda s: getattr(s.figures, name) if s.figures is not None else None

    return {
        "byok_integration_up": (
            "1 when the last probe found the integration usable (healthy or degraded), 0 when "
            "it failed; absent before a first probe",
            lambda s: (
                None
                if s.row.health_state == HealthState.UNKNOWN
                else float(s.row.health_state != HealthState.FAILING)
            ),
        ),
        "byok_probe_latency_seconds": (
            "the provider's answer time in the last probe",
            lambda s: (
                s.row.health_latency_ms / 1000 if s.row.health_latency_ms is not None else None
            ),
        ),
        "byok_last_probe_timestamp_seconds": (
            "when the last probe ran (Unix time; its age is time() - this)",
            lambda s: s.row.health_checked_at.timestamp() if s.row.health_checked_at else None,
        ),
        "byok_budget_limit_cents": (
            "the budget of the period in cents; 0 = none",
            fig("budget_limit_cents"),
        ),
        "byok_budget_used_cents": (
            "cost recorded in the period, in cents",
            fig("budget_used_cents"),
        ),
        "byok_budget_used_ratio": (
            "budget used / budget limit (1 = the whole budget); absent without a budget",
            lambda s: (
                s.figures.budget_percent / 100
                if s.figures is not None and s.figures.budget_limit_cents
                else None
            ),
        ),
        "byok_tokens_limit": ("the token limit of the period; 0 = none", fig("token_limit_month")),
        "byok_tokens_used": (
            "input + output tokens recorded in the period",
            fig("tokens_used_month"),
        ),
        "byok_requests_last_minute": (
            "requests recorded in the last 60 seconds",
            fig("requests_this_minute"),
        ),
        "byok_rate_limit_rpm": ("the requests-per-minute limit; 0 = none", fig("rate_limit_rpm")),
        "byok_reported_spend_cents": (
            "spend the provider reported for the synced days of the period, in cents; absent "
            "when the integration is not linked to a synced provider key",
            lambda s: s.reported.reported_cents if s.reported is not None else None,
        ),
        "byok_spend_drift_cents": (
            "recorded minus reported spend over the days of the period that have both, in cents",
            lambda s: s.reported.drift_cents if s.reported is not None else None,
        ),
    }


GAUGES = _gauges()
HEALTH = "byok_integration_health"
DECISION = "byok_limit_decision"
ENUMS = {
    # enum-valued: one series with the value in a label (`byok_integration_health{state=
    # "failing"}` in a query); only the current value, a sample per integration, not four
    HEALTH: ("the last probe's verdict, as its state label (the value is 1)", "state"),
    DECISION: (
        "check_limits' answer now for a call without estimates, as its label (the value is 1)",
        "decision",
    ),
}
FAMILIES = [*GAUGES, *ENUMS]


def _labels(s: Sample) -> list[str]:
    return [s.tenant, s.row.name, s.row.provider_type.value]


class _Families(Collector):
    """The integration families of some samples, for prometheus-client's `generate_latest`."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self.samples = samples

    def collect(self) -> Iterator[Any]:
        for name, (doc, value) in GAUGES.items():
            family = GaugeMetricFamily(name, doc, labels=LABELS)
            for s in self.samples:
                x = value(s)
                if x is not None and math.isfinite(x):
                    family.add_metric(_labels(s), float(x))
            yield family
        for name, (doc, label) in ENUMS.items():
            family = GaugeMetricFamily(name, doc, labels=(*LABELS, label))
            for s in self.samples:
                current = s.row.health_state if name == HEALTH else s.decision
                if current is not None:
                    family.add_metric([*_labels(s), current.value], 1.0)
            yield family


def _split(text: bytes) -> dict[str, list[bytes]]:
    """generate_latest's output, family by family: its `# HELP`/`# TYPE` lines, then samples."""
    out: dict[str, list[bytes]] = {}
    lines: list[bytes] = []
    for line in text.splitlines(keepends=True):
        if line.startswith(b"# HELP "):
            lines = out.setdefault(line.split(b" ", 3)[2].decode(), [])
        lines.append(line)
    return out


class IntegrationRenderer:
    """The integrations' part of the exposition, rendered by prometheus-client one integration
    at a time and kept: an integration whose figures did not change since the last rendering
    costs nothing, so a round re-renders what changed (a probe result, recorded usage), not
    10,000 integrations. Ages are exported as timestamps for that reason (Prometheus' own
    advice: a timestamp, not the time since)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, list[bytes]]]] = {}
        headers = _split(generate_latest(_Families(())))
        self.headers = {name: b"".join(headers[name]) for name in FAMILIES}

    def render(self, samples: Sequence[Sample]) -> bytes:
        parts: dict[str, list[bytes]] = {name: [self.headers[name]] for name in FAMILIES}
        cache: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, list[bytes]]]] = {}
        for s in samples:
            key = (s.tenant, s.row.id)
            state = (s.row, s.figures, s.decision, s.reported, s.tenant)
            hit = self._cache.get(key)
            if hit is None or hit[0] != state:
                own = _split(generate_latest(_Families((s,))))
                hit = (state, {name: lines[2:] for name, lines in own.items()})
            cache[key] = hit
            for name, lines in hit[1].items():
                parts[name] += lines
        self._cache = cache
        return b"".join(b"".join(lines) for lines in parts.values())


class Metrics:
    """The watcher's registry: its counters and gauges, and the integrations' families."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.integrations = IntegrationRenderer()
        r = self.registry
        self.probes = Counter(
            "byok_watch_probes", "probes run by this watcher, by outcome", ["outcome"], registry=r
        )
        self.rounds_failed = Counter(
            "byok_watch_round_errors", "rounds of work that failed", ["step"], registry=r
        )
        self.delivered = Counter(
            "byok_watch_alerts_delivered", "alert messages a channel took", ["channel"], registry=r
        )
        self.delivery_failed = Counter(
            "byok_watch_alerts_failed", "delivery attempts that failed", ["channel"], registry=r
        )
        self.outbox = Gauge(
            "byok_watch_outbox_items",
            "alert messages in the outbox, by state",
            ["state"],
            registry=r,
        )
        self.leader = Gauge(
            "byok_watch_leader", "1 when this process holds the watcher lease", registry=r
        )
        self.syncs = Counter(
            "byok_watch_syncs",
            "provider spend syncs run by this watcher, per account and outcome",
            ["tenant", "account", "outcome"],
            registry=r,
        )
        account = ["tenant", "account", "provider"]
        self.balance = Gauge(
            "byok_provider_balance_cents",
            "the prepaid credit an account has left, in cents of its currency",
            [*account, "currency"],
            registry=r,
        )
        self.runway = Gauge(
            "byok_credit_runway_days",
            "days the account's credit lasts at the last 7 days' burn; absent without a burn",
            account,
            registry=r,
        )
        self.refreshed = Gauge(
            "byok_watch_metrics_refreshed_timestamp_seconds",
            "when these figures were read",
            registry=r,
        )
        self._body = b""
        self._samples: Sequence[Sample] | None = None
        self._integrations = b""
        self._lock = threading.Lock()

    def refresh(
        self,
        samples: Sequence[Sample],
        outbox: Mapping[str, int],
        leader: bool,
        now_s: float,
        balances: Sequence[Balance] = (),
    ) -> None:
        """Render the exposition a scrape will serve (`now_s`: this rendering's time)."""
        self.balance.clear()  # a removed account leaves the exposition
        self.runway.clear()
        for b in balances:
            labels = (b.tenant, b.account, b.provider)
            self.balance.labels(*labels, b.currency or "").set(b.balance_cents)
            if b.runway_days is not None:
                self.runway.labels(*labels).set(b.runway_days)
        for state, n in outbox.items():
            self.outbox.labels(state).set(n)
        self.leader.set(1 if leader else 0)
        self.refreshed.set(now_s)
        if samples is not self._samples:  # the same list: the integrations' part stands
            self._samples, self._integrations = samples, self.integrations.render(samples)
        body = self._integrations + generate_latest(self.registry)
        with self._lock:
            self._body = body

    def body(self) -> bytes:
        with self._lock:
            return self._body


def samples_of(
    tenant: str,
    rows: Iterable[Row],
    figures: Mapping[str, LimitFigures],
    decisions: Mapping[str, Decision],
    reported: Mapping[str, ReportedFigures] | None = None,
) -> list[Sample]:
    spent = reported or {}
    return [
        Sample(tenant, r, figures.get(r.id), decisions.get(r.id), spent.get(r.id)) for r in rows
    ]


class MetricsServer:
    """`GET /metrics` on a thread of its own; any other path is 404."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        body = metrics.body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                data = body()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a scrape every 15 s is not news

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="byok-metrics", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
