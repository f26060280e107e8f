"""`byok demo`: the whole product working in a minute, without a single real key.

A temporary directory (0700, removed at exit) holds a fresh database and a throwaway master key;
the built-in fake provider (`tui.demo.fakeprovider`) listens on 127.0.0.1 and answers each sample
integration's probes as scripted: some succeed, some are slow, rate limited, refuse the key or
have run out of credit. Usage from earlier in the month is seeded so the gauges start at telling
levels (one near its budget, one over), and a background thread keeps recording calls every
second so they move. Four provider accounts point at the fake provider's admin routes
(tui/demo/fakeadmin.py), which report usage a little off what was recorded and two balances, and
are synced once: the spend screen (`$`) opens on drift, balances and runway. Then the ordinary
console opens on all of it at once, while another thread
probes every sample: health fills in as the probes land. Nothing touches the user's
own database, key file or the internet.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core import IntegrationsFacade

TENANT = "default"


@dataclass(frozen=True)
class Sample:
    name: str
    provider: str
    model: str | None
    outcome: str  # what the fake provider does with this integration's probes
    budget_cents: int = 0
    token_limit: int = 0
    rpm: int = 0
    seed_fraction: float = 0.0  # share of the budget (or token limit) already used this month
    enabled: bool = True
    credential: str | None = None  # a reference instead of a demo key
    extra: dict[str, Any] = field(default_factory=dict)


# Listed oldest first: the console shows the newest first, so prod-openai ends up on top.
SAMPLES: tuple[Sample, ...] = (
    Sample("local-llama", "ollama", "llama3.2", "ok"),
    Sample("together-exp", "together", "deepseek-ai/DeepSeek-V3", "ok",
           credential="env:TOGETHER_DEMO_KEY"),  # a variable that is not set: status error
    Sample("openrouter-shared", "openrouter", "openai/gpt-4o", "ok", enabled=False),
    Sample("azure-legacy", "azure_openai", "gpt-4o", "ok", budget_cents=2_500,
           seed_fraction=0.6, extra={"api_version": "2024-10-21"}),
    Sample("deepseek-dev", "deepseek", "deepseek-chat", "no_credit", budget_cents=1_000,
           seed_fraction=1.02),
    Sample("mistral-eu", "mistral", "mistral-small-latest", "invalid_key", budget_cents=3_000),
    Sample("groq-fast", "groq", "llama-3.3-70b-versatile", "rate_limited", rpm=30),
    Sample("gemini-batch", "google", "gemini-2.5-flash", "slow", token_limit=40_000_000,
           seed_fraction=0.3),
    Sample("claude-research", "anthropic", "claude-sonnet-4-5", "ok", budget_cents=5_000,
           seed_fraction=0.84),
    Sample("prod-openai", "openai", "gpt-4o-mini", "ok", budget_cents=20_000, rpm=600,
           seed_fraction=0.42),
)  # fmt: skip


# What the fake provider plays for each scripted outcome (see tui/demo/fakeprovider.py).
FAKE_OUTCOMES = {
    "ok": "ok",
    "slow": "slow:2300",  # over the 2000 ms threshold: degraded, reason slow
    "rate_limited": "429:20",
    "invalid_key": "401",
    "no_credit": "402",
}


def demo_key(sample: Sample) -> str:
    """A fake key (never valid anywhere): the fake provider reads the outcome from it."""
    return f"sk-demo-{sample.outcome.replace('_', '-')}-{sample.name}-0000"


@contextmanager
def demo_environment() -> Iterator[Path]:
    """A private temp dir with a throwaway master key; both gone when the block ends."""
    saved = {k: os.environ.get(k) for k in ("BYOK_MASTER_KEY", "BYOK_KEY_FILE", "BYOK_DB")}
    tmp = Path(tempfile.mkdtemp(prefix="byok-demo-"))
    try:
        tmp.chmod(0o700)
        os.environ["BYOK_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        os.environ["BYOK_KEY_FILE"] = str(tmp / "master.key")
        os.environ["BYOK_DB"] = str(tmp / "byok.json")
        yield tmp
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(tmp, ignore_errors=True)


def credential_for(sample: Sample) -> str:
    if sample.credential is not None:
        return sample.credential
    return "" if sample.provider == "ollama" else demo_key(sample)


async def seed(facade: IntegrationsFacade, base_url_for: Any) -> dict[str, str]:
    """Create the samples (one commit) and this month's earlier usage; returns name -> id."""
    items = []
    for s in SAMPLES:
        config: dict[str, Any] = {"base_url": base_url_for(s.provider), **s.extra}
        items.append(
            {
                "name": s.name,
                "provider_type": s.provider,
                "credential": credential_for(s),
                "default_model": s.model,
                "config": config,
                "budget_limit_cents": s.budget_cents,
                "token_limit_month": s.token_limit,
                "rate_limit_rpm": s.rpm,
                "created_by": "demo",
            }
        )
    created = await facade.create_integrations(TENANT, items)
    ids = {d.name: d.id for d in created}
    for s in SAMPLES:
        if s.enabled:
            await facade.enable_integration(TENANT, ids[s.name])
        else:
            await facade.disable_integration(TENANT, ids[s.name])
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max((now - month_start).total_seconds() - 120, 60.0)
    records: list[dict[str, Any]] = []
    rng = random.Random(7)
    for s in SAMPLES:
        if not s.seed_fraction:
            continue
        calls = 40
        if s.budget_cents:
            per_call = s.budget_cents * s.seed_fraction / calls
            for i in range(calls):
                at = month_start + timedelta(seconds=span * (i + rng.random()) / calls)
                records.append(
                    {
                        "integration_id": ids[s.name],
                        "model": s.model or "demo",
                        "input_tokens": rng.randint(800, 4000),
                        "output_tokens": rng.randint(100, 900),
                        "cost_cents": round(per_call, 4),
                        "at": min(at, now - timedelta(seconds=90)),
                        "call_id": f"seed-{s.name}-{i}",
                    }
                )
        elif s.token_limit:
            per_call = int(s.token_limit * s.seed_fraction / calls)
            for i in range(calls):
                at = month_start + timedelta(seconds=span * (i + rng.random()) / calls)
                records.append(
                    {
                        "integration_id": ids[s.name],
                        "model": s.model or "demo",
                        "input_tokens": per_call * 4 // 5,
                        "output_tokens": per_call - per_call * 4 // 5,
                        "at": min(at, now - timedelta(seconds=90)),
                        "call_id": f"seed-{s.name}-{i}",
                    }
                )
    if records:
        await facade.record_usage_batch(TENANT, records)
    return ids


# The demo's provider accounts (name, provider, the prefix of that provider's admin keys), and
# what its admin routes report (tui/demo/fakeadmin.py): usage a little off what byok recorded,
# so that the spend screen shows drift both ways, and balances with a long and a short runway.
DEMO_ACCOUNTS = (
    ("demo-openai", "openai", "sk-admin"),
    ("demo-anthropic", "anthropic", "sk-ant-admin01"),
    ("demo-openrouter", "openrouter", "sk-or-v1"),
    ("demo-deepseek", "deepseek", "sk"),
)


def demo_admin_key(name: str, prefix: str) -> str:
    """A fake admin key (never valid anywhere), made when needed as demo_key makes the others."""
    return f"{prefix}-{name}-0000"
# (sample, the provider's key id, the model it reports, cents a token of its 5:1 in:out mix)
REPORTED = (
    ("prod-openai", "key_demo_prod", "gpt-4o", 3.75e-4),  # $2.50 / $10 per M tokens
    ("claude-research", "apikey_demo_research", "claude-sonnet-4-5-20250929", 5e-4),  # $3 / $15
)
SPEND_DAYS = 10


def seed_spend(server: Any, ids: dict[str, str], now: datetime) -> None:
    """What the fake provider's admin routes report for the demo's keys."""
    from tui.demo.fakeadmin import Use

    admin = server.admin
    samples = {s.name: s for s in SAMPLES}
    rng = random.Random(15)
    admin.openai_keys = [("proj_demo", "key_demo_prod", _redacted(samples["prod-openai"]))]
    admin.anthropic_keys = [
        ("apikey_demo_research", _redacted(samples["claude-research"]))
    ]
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed_h = max((now - month).total_seconds() / 3600, 1.0)
    hour0 = now.replace(minute=0, second=0, microsecond=0)
    for name, key_id, model, per_token in REPORTED:
        sample = samples[name]
        per_hour = sample.budget_cents * sample.seed_fraction / elapsed_h  # as seeded: recorded
        provider = "openai" if sample.provider == "openai" else "anthropic"
        for back in range(1, SPEND_DAYS * 24):
            at = hour0 - timedelta(hours=back)
            tokens = int(per_hour * rng.uniform(0.8, 1.4) / per_token)  # some calls unrecorded
            admin.usage[provider].append(Use(at, key_id, model, tokens * 5 // 6, tokens // 6))
        for back in range(SPEND_DAYS):
            day = (month if back == 0 else hour0 - timedelta(days=back)).strftime("%Y-%m-%d")
            admin.costs[provider][day] = round(per_hour * 24, 2)
    router = samples["openrouter-shared"]
    admin.key_usage[demo_key(router)] = (1.85, 11.40)  # today's and the week's dollars
    admin.credits = (100.0, 32.5)
    # DeepSeek: three days of deepseek-dev's recorded burn, a short runway whatever the date
    deepseek = samples["deepseek-dev"]
    seeded = deepseek.budget_cents * deepseek.seed_fraction
    daily = seeded * min(elapsed_h, 7 * 24) / elapsed_h / 7
    admin.balance = ("USD", f"{3 * daily / 100:.2f}")


def _redacted(sample: Sample) -> str:
    """The provider's redacted form of the sample's key (OpenAI's `sk-abc...wxyz`)."""
    key = demo_key(sample)
    return f"{key[:6]}...{key[-4:]}"


def add_demo_accounts(facade: IntegrationsFacade, server: Any) -> list[dict[str, Any]]:
    """The demo's accounts, pointed at the fake provider, then one sync of them all
    (synchronous: run it in a thread)."""
    spend = facade.spend()
    for name, provider, prefix in DEMO_ACCOUNTS:
        key = demo_admin_key(name, prefix)
        spend.add_account(TENANT, name, provider, key, server.base_url_for(provider))
    return spend.sync(TENANT)


class UsageSimulator:
    """Records a few calls every second on its own thread and facade, so the gauges move."""

    def __init__(self, db_path: Path, ids: dict[str, str], interval_s: float = 1.0) -> None:
        self.db_path = db_path
        # calls flow only where a real key would work: not for a revoked or missing key
        working = {"ok", "slow", "rate_limited"}
        self.targets = [
            (ids[s.name], s)
            for s in SAMPLES
            if s.enabled and s.outcome in working and s.credential is None
        ]
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="byok-demo-usage", daemon=True)
        self.recorded = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        facade = IntegrationsFacade(self.db_path)
        rng = random.Random()
        try:
            while not self._stop.is_set():
                for iid, sample in rng.sample(self.targets, k=min(3, len(self.targets))):
                    try:
                        await facade.record_usage(
                            TENANT,
                            iid,
                            model=sample.model or "demo",
                            input_tokens=rng.randint(200, 6000),
                            output_tokens=rng.randint(50, 1500),
                            cost_cents=round(rng.uniform(0.5, 4.0), 3)
                            if sample.budget_cents
                            else None,
                        )
                        self.recorded += 1
                    except Exception:  # the demo must not die on one bad call
                        continue
                await asyncio.to_thread(self._stop.wait, self.interval_s)
        finally:
            await facade.aclose()


class DemoTerminated(SystemExit):
    """SIGTERM or SIGHUP (a closed ssh session) before the console runs: unwind and clean up."""


class _Hangup:
    """SIGTERM/SIGHUP handling for the demo's whole life.

    Before the console runs, the handler raises (plain code unwinds through the `finally`s).
    While it runs, raising inside Textual's event loop could be swallowed by a task, so the
    handler asks the app to exit instead; the cleanup then runs as after `q`.
    """

    def __init__(self) -> None:
        self.app: Any = None
        self.code = 0

    def __call__(self, signum: int, _frame: object) -> None:
        self.code = 128 + signum
        if self.app is None:
            raise DemoTerminated(self.code)
        self.app.exit(return_code=self.code)

    @contextmanager
    def installed(self) -> Iterator[_Hangup]:
        saved = {sig: signal.signal(sig, self) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            yield self
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)


async def probe_all(facade: IntegrationsFacade, ids: dict[str, str]) -> None:
    """Probe every sample once, all at the same time."""
    await asyncio.gather(*(facade.test_credentials(TENANT, iid) for iid in ids.values()))


def probe_in_background(db_path: Path, ids: dict[str, str]) -> threading.Thread:
    """Probe every sample once on a thread of its own, while the console paints its list: each
    result lands in the database as it comes, and the console's live refresh shows it."""

    async def probe() -> None:
        facade = IntegrationsFacade(db_path)
        try:
            await probe_all(facade, ids)
        finally:
            await facade.aclose()

    def run() -> None:
        with contextlib.suppress(Exception):  # the demo goes on without health rather than die
            asyncio.run(probe())

    thread = threading.Thread(target=run, name="byok-demo-probes", daemon=True)
    thread.start()
    return thread


def start_fake_provider() -> Any:
    """The built-in fake provider on 127.0.0.1, scripted per demo key."""
    from tui.demo.fakeprovider import FakeProviderServer

    server = FakeProviderServer().start()
    for sample in SAMPLES:
        if sample.credential is None and sample.provider != "ollama":
            server.script(demo_key(sample), FAKE_OUTCOMES[sample.outcome])
    return server


def run_demo(**console_options: Any) -> int:
    """Set everything up, open the console, clean everything up; returns its exit code."""
    from tui.app import ByokApp

    console_options.setdefault("probe_interval_s", 30)
    with demo_environment() as tmp, _Hangup().installed() as hangup:
        db_path = tmp / "byok.json"
        server = start_fake_provider()
        simulator: UsageSimulator | None = None
        try:

            async def setup() -> dict[str, str]:
                facade = IntegrationsFacade(db_path)
                try:
                    ids = await seed(facade, server.base_url_for)
                    seed_spend(server, ids, datetime.now(UTC))
                    await asyncio.to_thread(add_demo_accounts, facade, server)
                    return ids
                finally:
                    await facade.aclose()

            ids = asyncio.run(setup())
            probes = probe_in_background(db_path, ids)
            simulator = UsageSimulator(db_path, ids)
            simulator.start()
            facade = IntegrationsFacade(db_path)
            try:
                hangup.app = ByokApp(facade, tenant_id=TENANT, **console_options)
                hangup.app.run()
                return int(hangup.app.return_code or 0)
            finally:
                hangup.app = None
                asyncio.run(facade.aclose())
        finally:
            if simulator is not None:
                simulator.stop()
                probes.join(timeout=5)
            server.stop()
