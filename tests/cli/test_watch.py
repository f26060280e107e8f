"""`byok watch` as systemd runs it: real processes, a real fake provider, real receivers.

Each test starts the real `byok watch` (rounds of 0.2 s, a lease of 1.5 s) on a database with
an integration past 80 % of its budget and one whose key the provider refuses, so two alerts are
due: `budget_80` for `spender` and `health_failing` for `refused`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.clirun import BYOK, byok
from support.env import subprocess_env
from support.providers import key_for, make
from support.receivers import WebhookReceiver, free_port

from core import IntegrationsFacade
from core.paths import side_file
from core.watch.lease import current
from core.watch.outbox import Outbox
from core.watch.state import WatchState
from tui.demo.fakeadmin import Use
from tui.demo.fakeprovider import FakeProviderServer

ROUND = "0.2"
TTL = "1.5"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def config_dir(tmp_path: Path, hook: WebhookReceiver) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    (path / "channels.toml").write_text('[channels.hook]\nurl = "env:HOOK_URL"\n')
    return path


@pytest.fixture
async def db(db_path: Path, fake_server: FakeProviderServer) -> Path:
    facade = IntegrationsFacade(db_path)
    try:
        spender = await make(
            facade, fake_server, "openai", key_for("ok"), tenant="default", name="spender"
        )
        await facade.update_integration("default", spender, budget_limit_cents=100)
        await facade.record_usage(
            "default", spender, model="gpt-4o", input_tokens=10, output_tokens=5, cost_cents=85
        )
        await make(facade, fake_server, "openai", key_for("401"), tenant="default", name="refused")
    finally:
        await facade.aclose()
    return db_path


class Watch:
    """One `byok watch` child; its stderr (JSON log lines) goes to a file."""

    def __init__(self, db: Path, config_dir: Path, hook: WebhookReceiver, *extra: str) -> None:
        self.log = db.parent / f"watch-{time.monotonic_ns()}.log"
        self.metrics_port = free_port()
        env = subprocess_env(BYOK_CONFIG_DIR=str(config_dir), HOOK_URL=hook.url())
        argv = [
            *BYOK, "--db", str(db), "watch", "--round", ROUND, "--lease-ttl", TTL,
            "--metrics", f"127.0.0.1:{self.metrics_port}", "--log-json", *extra,
        ]  # fmt: skip
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def said(self, words: str) -> bool:
        return any(words in line["msg"] for line in self.lines())

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)


def status(db: Path) -> dict[str, Any]:
    """`byok watch status --json`, the command."""
    run = byok("watch", "status", "--json", db=db)
    assert run.code == 0, run.err
    return run.json


def peek(db: Path) -> dict[str, Any]:
    """The same figures read from the file in this process (for polling: no process each time)."""
    if not side_file(db, "watch").exists():
        return {"watcher": None, "outbox": []}
    state = WatchState(db, create=False)
    try:
        lease = current(state, int(time.time() * 1e6))
        return {"watcher": {"pid": lease.pid} if lease else None, "outbox": Outbox(state).items()}
    finally:
        state.close()


def kinds(hook: WebhookReceiver) -> list[str]:
    return sorted(m["title"] for m in hook.messages())


EXPECTED = ["byok: refused is failing", "byok: spender at 80% of its budget"]


def test_an_alert_raised_then_killed_before_delivery_arrives_once_after_restart(
    db: Path, config_dir: Path, hook: WebhookReceiver
) -> None:
    hook.failing = True  # the channel is down: the alerts wait in the outbox
    first = Watch(db, config_dir, hook)
    try:
        wait_for(
            "both alerts tried once",
            lambda: len([i for i in peek(db)["outbox"] if i["attempts"] >= 1]) == 2,
        )
    finally:
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
    items = status(db)["outbox"]
    assert {i["state"] for i in items} == {"pending"} and hook.messages() == []
    assert status(db)["watcher"] is None  # its process is gone: the lease is not a watcher
    said = byok("watch", "status", db=db).out
    assert f"the lease of pid {first.proc.pid}" in said and "is stale" in said
    assert all("hook" in i["last_error"] for i in items)

    hook.failing = False
    second = Watch(db, config_dir, hook)
    try:
        wait_for("the two alerts", lambda: len(hook.messages()) >= 2)
        time.sleep(1.5)  # several more rounds: nothing is sent again
        assert kinds(hook) == EXPECTED
        assert {i["state"] for i in status(db)["outbox"]} == {"delivered"}
    finally:
        assert second.stop() == 0
    assert second.said("delivered budget_80 to hook")
    # both in `byok alerts`, the usage alert and the watcher's own, each with its delivery
    alerts = {a["kind"]: a for a in byok("alerts", "--json", db=db).json}
    assert sorted(alerts) == ["budget", "health_failing"]
    for alert in alerts.values():
        assert [(d["channel"], d["state"]) for d in alert["deliveries"]] == [("hook", "delivered")]
    assert alerts["health_failing"]["integration_name"] == "refused"
    assert alerts["health_failing"]["title"] == "byok: refused is failing"
    text = byok("alerts", db=db).out
    assert "health_failing" in text and "refused is failing" in text


def test_a_channel_down_for_a_while_then_back(
    db: Path, config_dir: Path, hook: WebhookReceiver
) -> None:
    port = hook.port
    hook.stop()  # nothing listens: connection refused
    watch = Watch(db, config_dir, hook)
    try:
        wait_for("a failed attempt", lambda: watch.said("delivery to hook failed (attempt 1"))
        hook.port = port
        hook.start()
        # the first retry comes 5 s after the failure
        wait_for("the two alerts", lambda: len(hook.messages()) >= 2, timeout=40)
        time.sleep(1)
        assert kinds(hook) == EXPECTED
    finally:
        assert watch.stop() == 0


def test_two_watchers_share_the_work_and_the_survivor_takes_over(
    db: Path, config_dir: Path, hook: WebhookReceiver, fake_server: FakeProviderServer
) -> None:
    a, b = Watch(db, config_dir, hook), Watch(db, config_dir, hook)
    try:
        wait_for("the two alerts", lambda: len(hook.messages()) >= 2)
        time.sleep(1.5)
        assert kinds(hook) == EXPECTED
        probes = [r for r in fake_server.requests if r.route == "probe"]
        assert len(probes) == 2, probes  # each integration probed once, by one watcher
        holder = status(db)["watcher"]["pid"]
        assert holder in (a.proc.pid, b.proc.pid)
        leader, standby = (a, b) if holder == a.proc.pid else (b, a)
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait()
        wait_for(
            "the standby holding the lease",
            lambda: (peek(db)["watcher"] or {}).get("pid") == standby.proc.pid,
            timeout=15,
        )
        # a new alert is the survivor's to deliver
        run = byok(
            "usage",
            "record",
            "spender",
            "--model",
            "gpt-4o",
            "--input",
            "1",
            "--output",
            "1",
            "--cost-cents",
            "20",
            db=db,
        )
        assert run.code == 0, run.err
        wait_for("the 100% alert", lambda: len(hook.messages()) >= 3)
        time.sleep(1)
        assert len(hook.messages()) == 3
        assert "at 100% of its budget" in kinds(hook)[-1] or any("100%" in t for t in kinds(hook))
    finally:
        for w in (a, b):
            w.stop(signal.SIGKILL) if w.proc.poll() is None else None


def test_the_metrics_agree_with_byok_limits(
    db: Path, config_dir: Path, hook: WebhookReceiver
) -> None:
    recorded_at = db.stat().st_mtime  # the fixture's last write, just after its usage record
    watch = Watch(db, config_dir, hook)
    try:
        wait_for("a probe round", lambda: watch.said("probed 2 integrations"))
        wait_for(
            "the refused key and both deliveries in the metrics",
            lambda: 'byok_integration_up{integration="refused"' in (t := watch.scrape())
            and 'byok_watch_alerts_delivered_total{channel="hook"} 2.0' in t,
        )
        text = watch.scrape()
    finally:
        assert watch.stop() == 0
    samples: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "integration" in s.labels and "state" not in s.labels and "decision" not in s.labels:
                samples[(s.name, s.labels["integration"])] = s.value
            if s.name == "byok_integration_health" and s.value == 1:
                samples[("health", s.labels["integration"])] = s.labels["state"]  # type: ignore[assignment]
            if s.name == "byok_limit_decision" and s.value == 1:
                samples[("decision", s.labels["integration"])] = s.labels["decision"]  # type: ignore[assignment]
    listed = {i["name"]: i["id"] for i in byok("list", "--json", db=db).json["items"]}
    limits = {s["integration_id"]: s for s in byok("limits", "--json", db=db).json}
    for name, iid in listed.items():
        want = limits[iid]
        assert samples[("byok_budget_used_cents", name)] == want["budget_used_cents"]
        assert samples[("byok_budget_limit_cents", name)] == want["budget_limit_cents"]
        assert samples[("byok_tokens_used", name)] == want["tokens_used_month"]
        assert samples[("byok_tokens_limit", name)] == want["token_limit_month"]
        if time.time() - recorded_at < 55:  # the one call is still in the rolling minute
            assert samples[("byok_requests_last_minute", name)] == want["requests_this_minute"]
        assert samples[("byok_rate_limit_rpm", name)] == want["rate_limit_rpm"]
    assert samples[("byok_budget_used_ratio", "spender")] == pytest.approx(0.85)
    assert samples[("byok_integration_up", "spender")] == 1
    assert samples[("byok_integration_up", "refused")] == 0
    assert samples[("health", "refused")] == "failing"
    assert samples[("decision", "refused")] == "blocked"
    assert samples[("decision", "spender")] == "warned"
    assert ("byok_watch_leader", "") not in samples
    assert "byok_watch_leader 1.0" in text
    assert 'byok_watch_alerts_delivered_total{channel="hook"} 2.0' in text


def test_sighup_and_sigterm_end_it_cleanly_and_free_the_lease(
    db: Path, config_dir: Path, hook: WebhookReceiver
) -> None:
    for sig in (signal.SIGHUP, signal.SIGTERM):
        watch = Watch(db, config_dir, hook)
        wait_for("the lease", lambda: peek(db)["watcher"] is not None)
        assert watch.stop(sig) == 0
        assert status(db)["watcher"] is None
        assert watch.said(f"{signal.Signals(sig).name}: finishing")


def test_alerts_test_channel(db: Path, config_dir: Path, hook: WebhookReceiver) -> None:
    env = {"BYOK_CONFIG_DIR": str(config_dir), "HOOK_URL": hook.url("/hook/s3cretT0ken")}
    run = byok("alerts", "test", "hook", db=db, env=env)
    assert run.code == 0 and "took the test message" in run.out, run.err
    assert hook.messages()[0]["title"] == "byok: test message"
    hook.failing = True
    run = byok("alerts", "test", "hook", db=db, env=env)
    assert run.code == 69 and "hook" in run.err and "s3cretT0ken" not in run.err + run.out
    run = byok("alerts", "test", "nope", db=db, env=env)
    assert run.code == 64 and "no channel named 'nope'" in run.err
    run = byok("alerts", "spender", "extra", db=db, env=env)
    assert run.code == 64


def test_bad_setups_are_one_line_errors(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[channels.x\n")
    run = byok("watch", "--channels", str(bad), db=db)
    assert run.code == 64 and "not valid TOML" in run.err and "Traceback" not in run.err
    run = byok("watch", "--metrics", "nowhere", db=db)
    assert run.code == 64 and "HOST:PORT" in run.err
    run = byok("watch", "--round", "5", "--lease-ttl", "10", db=db)
    assert run.code == 64 and "at least 3 rounds" in run.err
    run = byok("watch", db=tmp_path / "missing" / "byok.json")
    assert run.code == 74 and not (tmp_path / "missing").exists()


# -- the provider spend sync, runway and drift --------------------------------------------------


def _day_settled() -> datetime:
    """A UTC day that is over and whose end is over an hour past (the drift rule's rule)."""
    now = datetime.now(UTC)
    back = 1 if now.hour >= 2 else 2
    return (now - timedelta(days=back)).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
async def spend_db(db_path: Path, own_fake_server: FakeProviderServer) -> Path:
    """An OpenAI integration the provider billed 250 cents on a settled day for which byok
    recorded 50 (drift), an OpenRouter account whose credit lasts 7.5 days, and a DeepSeek
    account nobody answers for (a failing sync)."""
    server = own_fake_server
    day = _day_settled()
    # set up on that day: the usage log holds a day from the first write of that day on
    facade = IntegrationsFacade(db_path, clock=lambda: day)
    try:
        key = key_for("ok")
        prod = await make(facade, server, "openai", key, tenant="default", name="prod")
        router_key = key_for("ok")
        await make(facade, server, "openrouter", router_key, tenant="default", name="router-key")
        server.admin.openai_keys = [("proj_1", "key_P", f"sk-tes...{key[-4:]}")]
        server.admin.usage["openai"] = [Use(day, "key_P", "gpt-4o", 1_000_000, 0)]  # 250 cents
        server.admin.key_usage[router_key] = (1.0, 70.0)  # $70 a week: $10 a day
        server.admin.credits = (100.0, 25.0)  # $75 left: 7.5 days
        await facade.record_usage(
            "default", prod, model="gpt-4o", input_tokens=10, output_tokens=0, cost_cents=50,
            at=day,
        )  # fmt: skip
        spend = facade.spend()
        admin = "sk-admin-" + "a" * 40
        for name, provider, url in (
            ("org", "openai", server.base_url_for("openai")),
            ("router", "openrouter", server.base_url_for("openrouter")),
            ("down", "deepseek", "http://127.0.0.1:9"),
        ):
            spend.add_account("default", name, provider, admin, url)
    finally:
        await facade.aclose()
    return db_path


def samples_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


SPEND_ALERTS = ["byok: prod drifted 80% from the provider's figure on {day}",
                "byok: router has 7.5 days of credit left"]  # fmt: skip


def test_runway_and_drift_alerts_arrive_once_and_a_failed_sync_is_counted(
    spend_db: Path, config_dir: Path, hook: WebhookReceiver
) -> None:
    db = spend_db
    day = _day_settled().strftime("%Y-%m-%d")
    expected = sorted(t.format(day=day) for t in SPEND_ALERTS)
    watch = Watch(db, config_dir, hook, "--runway-days", "10")
    try:
        wait_for("the spend alerts", lambda: len(hook.messages()) >= 2)
        time.sleep(1.5)  # more rounds: nothing again
        assert kinds(hook) == expected
        wait_for("the sync counted", lambda: "byok_watch_syncs_total" in watch.scrape())
        text = watch.scrape()
    finally:
        assert watch.stop() == 0
    assert watch.said("sync of down failed")
    got = samples_of(text)
    account = (("account", "down"), ("outcome", "failed"), ("tenant", "default"))
    assert got[("byok_watch_syncs_total", account)] == 1
    for name in ("org", "router"):
        ok = (("account", name), ("outcome", "ok"), ("tenant", "default"))
        assert got[("byok_watch_syncs_total", ok)] == 1
    router = (("account", "router"), ("provider", "openrouter"), ("tenant", "default"))
    assert got[("byok_provider_balance_cents", (*router[:1], ("currency", "USD"), *router[1:]))] \
        == 7500  # fmt: skip
    assert got[("byok_credit_runway_days", router)] == 7.5
    # reported spend and drift: `byok spend`'s days of the limits' period, summed
    prod = {i["name"]: i["id"] for i in byok("list", "--json", db=db).json["items"]}["prod"]
    (limits,) = [x for x in byok("limits", "--json", db=db).json if x["integration_id"] == prod]
    month = limits["period_start"][:7]
    days = [r for r in byok("spend", "prod", "--json", db=db).json["days"]
            if r["period_start"].startswith(month)]  # fmt: skip
    labels = (("integration", "prod"), ("provider", "openai"), ("tenant", "default"))
    assert got[("byok_reported_spend_cents", labels)] == pytest.approx(
        sum(r["reported_cents"] for r in days)
    )
    drifts = [r["drift_cents"] for r in days if r["drift_cents"] is not None]
    if drifts:  # the settled day may be last month's
        assert got[("byok_spend_drift_cents", labels)] == pytest.approx(sum(drifts))
    else:
        assert ("byok_spend_drift_cents", labels) not in got

    # a restart: the sync is not due yet, the rules look again, nothing is sent twice
    again = Watch(db, config_dir, hook, "--runway-days", "10")
    try:
        wait_for("a round", lambda: again.said("watching"))
        time.sleep(2)
    finally:
        assert again.stop() == 0
    assert kinds(hook) == expected
    assert not again.said("synced")
    items = status(db)["outbox"]
    assert sorted(i["kind"] for i in items) == ["runway_low", "spend_drift"]
    assert {i["state"] for i in items} == {"delivered"}
    alerts = byok("alerts", "--json", db=db).json
    assert sorted(a["title"] for a in alerts) == expected
    for alert in alerts:
        assert [(d["channel"], d["state"]) for d in alert["deliveries"]] == [("hook", "delivered")]
    by_kind = {a["kind"]: a for a in alerts}
    assert by_kind["runway_low"]["integration_id"] is None  # an account's
    assert by_kind["spend_drift"]["integration_name"] == "prod"
    assert "250.00 cents" in by_kind["spend_drift"]["message"]
    (prod_alert,) = byok("alerts", "prod", "--json", db=db).json  # one integration's
    assert prod_alert["kind"] == "spend_drift"


class HeldBalance:
    """DeepSeek's /user/balance, answered only once `release` is set: a sync that hangs."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.seen = self.active = self.most = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner.lock:
                    owner.seen += 1
                    owner.active += 1
                    owner.most = max(owner.most, owner.active)
                owner.release.wait(30)
                body = json.dumps({"is_available": True, "balance_infos": [
                    {"currency": "USD", "total_balance": "12.00"}]}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with owner.lock:
                    owner.active -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


async def test_a_hung_sync_blocks_neither_a_scrape_nor_the_rounds_and_never_runs_twice(
    db: Path, config_dir: Path, hook: WebhookReceiver
) -> None:
    held = HeldBalance()
    facade = IntegrationsFacade(db)
    try:
        facade.spend().add_account("default", "ds", "deepseek", "sk-" + "d" * 30, held.url)
    finally:
        await facade.aclose()
    watch = Watch(db, config_dir, hook, "--sync-every", "0.1")
    try:
        wait_for("the sync's request", lambda: held.seen == 1)
        # the sync hangs: the rounds go on (the alerts are delivered) and a scrape answers
        wait_for("the two alerts", lambda: len(hook.messages()) >= 2)
        assert "byok_watch_leader 1.0" in watch.scrape()
        time.sleep(1)  # five rounds, each finding the sync still running
        assert held.seen == 1
        held.release.set()
        wait_for("the balance", lambda: "byok_provider_balance_cents" in watch.scrape())
        wait_for("more syncs", lambda: held.seen >= 3)
    finally:
        held.release.set()
        assert watch.stop() == 0
        held.httpd.shutdown()
    assert held.most == 1
