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

LABELS = ("tenant", "integration", "provider")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Sample:
    tenant: str
    row: Row
    figures: LimitFigures | None
    decision: Decision | None


# name -> (help, value of a sample or None to leave the series out)
def _gauges(now_s: float) -> dict[str, tuple[str, Any]]:
    def age(s: Sample) -> float | None:
        at = s.row.health_checked_at
        return max(now_s - at.timestamp(), 0.0) if at is not None else None

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
        "byok_probe_age_seconds": ("seconds since the last probe", age),
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
    }


class IntegrationCollector(Collector):
    """Per-integration families from the last snapshot (`update` swaps it in whole)."""

    def __init__(self) -> None:
        self.samples: Sequence[Sample] = ()
        self.now_s = 0.0

    def update(self, samples: Sequence[Sample], now_s: float) -> None:
        self.samples, self.now_s = samples, now_s

    def collect(self) -> Iterator[Any]:
        samples, now_s = self.samples, self.now_s
        for name, (doc, value) in _gauges(now_s).items():
            family = GaugeMetricFamily(name, doc, labels=LABELS)
            for s in samples:
                x = value(s)
                if x is not None and math.isfinite(x):
                    family.add_metric(_labels(s), float(x))
            yield family
        # enum-valued: one series with the value in a label (`byok_integration_health{state=
        # "failing"}` in a query); only the current value, a sample per integration, not four
        health = GaugeMetricFamily(
            "byok_integration_health",
            "the last probe's verdict, as its state label (the value is 1)",
            labels=(*LABELS, "state"),
        )
        decision = GaugeMetricFamily(
            "byok_limit_decision",
            "check_limits' answer now for a call without estimates, as its label (the value is 1)",
            labels=(*LABELS, "decision"),
        )
        for s in samples:  # the current value only: a state that ends leaves its series
            labels = _labels(s)
            health.add_metric([*labels, s.row.health_state.value], 1.0)
            if s.decision is not None:
                decision.add_metric([*labels, s.decision.value], 1.0)
        yield health
        yield decision


def _labels(s: Sample) -> list[str]:
    return [s.tenant, s.row.name, s.row.provider_type.value]


class Metrics:
    """The watcher's registry: its counters and gauges, and the integrations' families."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.integrations = IntegrationCollector()
        self.registry.register(self.integrations)
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
        self.refreshed = Gauge(
            "byok_watch_metrics_refreshed_timestamp_seconds",
            "when these figures were read",
            registry=r,
        )
        self._body = b""
        self._lock = threading.Lock()

    def refresh(
        self, samples: Sequence[Sample], outbox: Mapping[str, int], leader: bool, now_s: float
    ) -> None:
        self.integrations.update(samples, now_s)
        for state, n in outbox.items():
            self.outbox.labels(state).set(n)
        self.leader.set(1 if leader else 0)
        self.refreshed.set(now_s)
        body = generate_latest(self.registry)
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
) -> list[Sample]:
    return [Sample(tenant, r, figures.get(r.id), decisions.get(r.id)) for r in rows]


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
