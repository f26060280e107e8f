"""`byok demo`'s provider accounts: the fake provider's admin routes (127.0.0.1 only) report
usage, cost and balances for the demo's keys, so the console opens on reported spend, drift,
balances and runway."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from core import IntegrationsFacade
from tui.demo import run


async def test_the_demo_shows_reported_spend_drift_balances_and_runway() -> None:
    with run.demo_environment() as tmp:
        server = run.start_fake_provider()
        facade = IntegrationsFacade(tmp / "byok.json")
        try:
            ids = await run.seed(facade, server.base_url_for)
            run.seed_spend(server, ids, datetime.now(UTC))
            reports = run.add_demo_accounts(facade, server)
            overview = facade.spend().overview(run.TENANT)
        finally:
            await facade.aclose()
            server.stop()
        assert [r["account"] for r in reports if not r["ok"]] == []
        # every account points at the fake provider, and every admin call went to it
        assert {urlsplit(a["base_url"]).hostname for a in overview["accounts"]} == {"127.0.0.1"}
        assert {s.route for s in server.requests} == {"admin"}
        links = {iid: i["link"] for iid, i in overview["integrations"].items()}
        assert links[ids["prod-openai"]]["state"] == "auto"
        assert links[ids["claude-research"]]["state"] == "auto"
        for name in ("prod-openai", "claude-research"):
            today = overview["integrations"][ids[name]]["today"]
            assert today["reported_cents"] > 0 and today["reported_tokens"] > 0
            assert today["recorded_cents"] is not None and today["drift_cents"] is not None
            month = overview["integrations"][ids[name]]["month"]
            assert month["days"] >= 1
        days = {r["integration_id"] for r in overview["days"]}
        assert {ids["prod-openai"], ids["claude-research"], ids["openrouter-shared"]} <= days
        balances = {b["account"]: b for b in overview["balances"]}
        assert balances["demo-openrouter"]["balance_cents"] == 6750.0
        assert balances["demo-openrouter"]["runway_days"] > 30
        # three days of deepseek-dev's recorded burn: a short runway, flagged on screen
        assert 0 < balances["demo-deepseek"]["runway_days"] < 7
    assert not tmp.exists()
