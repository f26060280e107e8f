"""Detail of one integration: every field, health, three gauges, latency sparkline, log, alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Sparkline, Static

from core import IntegrationDetailResult, LimitFigures
from tui import format as fmt
from tui.screens.base import IntegrationScreen
from tui.widgets.gauge import Gauge
from tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from core import Alert, HealthLogEntry, WatchAlert

# The watcher's alert kinds (core.watch): the word shown and its state style.
WATCH_WORDS = {
    "health_failing": ("failing", "failing"),
    "health_recovered": ("recovered", "healthy"),
    "spend_drift": ("drift", "warn"),
    "runway_low": ("runway", "warn"),
}


class DetailScreen(IntegrationScreen):
    AUTO_FOCUS = "#detail-scroll"
    DEFAULT_CSS = "#detail-spend-box { height: auto; display: none; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="detail.back", tooltip="Back one screen"),
        Binding("e", "edit", "Edit", id="detail.edit", tooltip="Edit this integration"),
        Binding("d", "delete", "Delete", id="detail.delete", tooltip="Delete (asks first)"),
        Binding("plus", "enable", "Enable", id="detail.enable", tooltip="Enable it (asks)"),
        Binding("minus", "disable", "Disable", id="detail.disable", tooltip="Disable it (asks)"),
        Binding("t", "test", "Test", id="detail.test", tooltip="Probe it now"),
        Binding("r", "refresh", "Refresh", id="detail.refresh", tooltip="Reload now"),
        Binding("j", "scroll(1)", "Down", show=False, id="detail.down", tooltip="Scroll down"),
        Binding("k", "scroll(-1)", "Up", show=False, id="detail.up", tooltip="Scroll up"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc, q | detail.back | Back one screen |
    | e | detail.edit | Edit this integration |
    | d | detail.delete | Delete (asks first) |
    | + | detail.enable | Enable it (asks) |
    | - | detail.disable | Disable it (asks) |
    | t | detail.test | Probe it now |
    | r | detail.refresh | Reload now |
    | j | detail.down | Scroll down |
    | k | detail.up | Scroll up |
    """

    def __init__(self, integration_id: str) -> None:
        super().__init__(id="detail")
        self.integration_id = integration_id
        self.detail: IntegrationDetailResult | None = None
        self.spend: dict[str, Any] | None = None  # core.spend's overview, read once per change

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-scroll"):
            yield Static("Loading…", id="detail-fields")
            with Vertical(id="gauges"):
                yield Static("Limits this month", classes="section-title", id="detail-limits-title")
                yield Gauge("budget", id="gauge-budget")
                yield Gauge("tokens", id="gauge-tokens")
                yield Gauge("rpm", id="gauge-rpm")
                yield Static("", id="limits-note")
            with Horizontal(id="latency-row"):
                yield Static("latency", id="latency-label")
                yield Sparkline([], id="latency")
            yield Static("", id="latency-note")
            yield Static("Recent probes", classes="section-title")
            yield Static("", id="detail-log")
            yield Static("Alerts", classes="section-title")
            yield Static("", id="detail-alerts")
            with Vertical(id="detail-spend-box"):  # shown once the tenant has an account
                yield Static("Spend reported by the provider", classes="section-title")
                yield Static("", id="detail-spend")
        yield KeyBar()

    async def load(self) -> None:
        data = self.app.data
        facade = await data.get_facade()
        detail = await facade.get_integration(data.tenant_id, self.integration_id)
        if detail is None:
            self.query_one("#detail-fields", Static).update(
                "This integration no longer exists (deleted by another process?). esc goes back."
            )
            return
        self.detail = detail
        self._render_fields(detail)
        limits: LimitFigures | None = (await data.limits([detail.id])).get(detail.id)
        self._render_limits(limits, None)
        log = await data.health_log(detail.id, limit=50)
        self._render_log(log, None)
        self._render_alerts(await data.every_alert(detail.id, limit=10), None)
        if self.spend is None:  # read when the files changed, not on every tick of the clock
            self.spend = await data.spend()
        self._render_spend(self.spend)

    def refresh_data(self) -> None:
        self.spend = None
        super().refresh_data()

    def _render_spend(self, overview: dict[str, Any]) -> None:
        from tui.screens.spend import spend_text

        box = self.query_one("#detail-spend-box", Vertical)
        box.display = bool(overview["accounts"])
        if box.display:
            info = overview["integrations"].get(self.integration_id)
            text = spend_text(info, self.app.now(), self.look)
            self.query_one("#detail-spend", Static).update(fmt.safe(text))

    def _render_fields(self, d: IntegrationDetailResult) -> None:
        now = self.app.now()
        t = Text()
        t.append(f"{d.name}\n", style="bold")
        rows: list[tuple[str, Any]] = [
            ("provider", fmt.value(d.provider_type)),
            ("status", fmt.status_text(d.status, self.look)),
            ("health", fmt.health_text(d.health_state, self.look)),
            ("  message", d.health_message or "–"),
            ("  reason", d.health_reason or "–"),
            ("  latency", fmt.latency(d.health_latency_ms)),
            (
                "  checked",
                fmt.ago(d.health_checked_at, now)
                + (
                    f" ({d.health_checked_at:%Y-%m-%d %H:%M:%S} UTC)" if d.health_checked_at else ""
                ),
            ),
            (
                "credential",
                f"{d.credential_hint or '–'} (source: {fmt.value(d.credential_source)})",
            ),
            ("model", d.default_model or "–"),
            (
                "budget",
                fmt.dollars(d.budget_limit_cents) + fmt.per_period(d.budget_period)
                if d.budget_limit_cents
                else "unlimited",
            ),
            (
                "tokens",
                fmt.count(d.token_limit_month) + fmt.per_period(d.budget_period)
                if d.token_limit_month
                else "unlimited",
            ),
            ("rpm", str(d.rate_limit_rpm) if d.rate_limit_rpm else "unlimited"),
        ]
        for key, value in sorted(d.config.items()):
            rows.append((f"config.{key}", str(value)))
        rows += [
            ("id", d.id),
            ("created", f"{d.created_at:%Y-%m-%d %H:%M} UTC by {d.created_by or '–'}"),
            ("updated", f"{d.updated_at:%Y-%m-%d %H:%M} UTC" if d.updated_at else "–"),
        ]
        for key, value in rows:
            t.append(f"{key:<19}", style="dim")
            t.append_text(value if isinstance(value, Text) else Text(str(value)))
            t.append("\n")
        self.query_one("#detail-fields", Static).update(fmt.safe(t))

    def _render_limits(self, lim: LimitFigures | None, unavailable: str | None) -> None:
        note = self.query_one("#limits-note", Static)
        budget = self.query_one("#gauge-budget", Gauge)
        tokens = self.query_one("#gauge-tokens", Gauge)
        rpm = self.query_one("#gauge-rpm", Gauge)
        if lim is None:
            for gauge in (budget, tokens, rpm):
                gauge.show(None, 0, "", "")
            note.update(fmt.safe(unavailable or "No limits status."))
            return
        budget.show(
            lim.budget_percent,
            lim.budget_limit_cents,
            fmt.dollars(lim.budget_used_cents),
            fmt.dollars(lim.budget_limit_cents),
        )
        tokens.show(
            lim.token_percent,
            lim.token_limit_month,
            fmt.count(lim.tokens_used_month),
            fmt.count(lim.token_limit_month),
        )
        rpm.show(
            lim.rate_percent,
            lim.rate_limit_rpm,
            f"{lim.requests_this_minute}/min",
            f"{lim.rate_limit_rpm}/min",
        )
        when = fmt.this_period(lim.budget_period)
        title = f"Limits {when}"
        if lim.budget_period != "month":
            title += f" (from {lim.period_start:%a %Y-%m-%d} 00:00 UTC)"
        self.query_one("#detail-limits-title", Static).update(title)
        extra = f"{lim.requests_month:,} requests {when}"
        if lim.unpriced_calls:
            extra += f" · {lim.unpriced_calls:,} calls without a known price (cost 0)"
        note.update(Text(extra, style="dim"))

    def _render_log(self, log: list[HealthLogEntry], unavailable: str | None) -> None:
        spark = self.query_one("#latency", Sparkline)
        note = self.query_one("#latency-note", Static)
        box = self.query_one("#detail-log", Static)
        if unavailable:
            spark.data = []
            note.update(fmt.safe(unavailable))
            box.update(fmt.safe(unavailable))
            return
        latencies = [e.latency_ms for e in reversed(log) if e.latency_ms is not None]
        spark.data = latencies
        note.update(
            Text(
                f"min {min(latencies)} ms · max {max(latencies)} ms · last {latencies[-1]} ms"
                f" over {len(latencies)} probes",
                style="dim",
            )
            if latencies
            else Text("no probe with a latency yet", style="dim")
        )
        if not log:
            box.update(Text("No probe yet. Press t to test now.", style="dim"))
            return
        now = self.app.now()
        t = Text()
        for entry in log[:8]:
            t.append(f"{fmt.ago(entry.checked_at, now):>9}  ")
            t.append_text(fmt.health_text(entry.health_state, self.look))
            t.append(f"  {fmt.latency(entry.latency_ms):>7}  ")
            t.append(f"{entry.reason or ''}: {entry.message or ''}\n")
        box.update(fmt.safe(t))

    def _render_alerts(self, alerts: list[Alert | WatchAlert], unavailable: str | None) -> None:
        """The usage alerts and the watcher's (health, drift), newest first."""
        box = self.query_one("#detail-alerts", Static)
        if unavailable:
            box.update(fmt.safe(unavailable))
            return
        if not alerts:
            box.update(Text("No alert this period.", style="dim"))
            return
        from core import Alert  # loaded by now: the facade gave these

        now = self.app.now()
        t = Text()
        for alert in alerts:
            t.append(f"{fmt.ago(alert.created_at, now):>9}  ")
            if isinstance(alert, Alert):
                style = self.look("over" if alert.threshold >= 100 else "warn")
                t.append(f"{alert.threshold}% {alert.kind}", style=style)
                t.append(f"  {alert.message}\n")
            else:
                word, look = WATCH_WORDS.get(alert.kind, (alert.kind, "warn"))
                t.append(word, style=self.look(look))
                t.append(f"  {alert.title.removeprefix('byok: ')}\n")
            for d in alert.deliveries:  # once `byok watch` has announced it
                word = {"delivered": "✓ delivered", "dead": "✗ given up"}.get(d.state, "… pending")
                t.append(f"{'':>11}{word} to {d.channel}", style="dim" if d.state != "dead" else "")
                if d.state != "delivered" and d.last_error:
                    t.append(f" ({d.attempts} tries: {d.last_error})", style="dim")
                t.append("\n")
        box.update(fmt.safe(t))

    def target(self) -> tuple[str, str]:
        return self.integration_id, self.detail.name if self.detail else self.integration_id

    def action_back(self) -> None:
        self.dismiss(None)

    def action_scroll(self, delta: int) -> None:
        self.query_one("#detail-scroll", VerticalScroll).scroll_relative(y=delta, animate=False)
