"""A tenant with provider accounts on a fake provider of its own (real HTTP on 127.0.0.1), for
the spend screen's Pilot and snapshot tests: two OpenAI keys and an OpenRouter key, an OpenAI
account that syncs, an OpenRouter account with credits, and a DeepSeek account whose balance
route answers 500."""

from __future__ import annotations

from datetime import timedelta

from core import IntegrationsFacade
from support.clock import T0
from tui.demo.fakeadmin import Use
from tui.demo.fakeprovider import FakeProviderServer

KEY_A = "sk-proj-" + "a" * 40 + "1111"
KEY_B = "sk-proj-" + "b" * 40 + "2222"
ROUTER_KEY = "sk-or-v1-" + "r" * 40 + "3333"
ADMIN = "sk-admin-" + "z" * 40  # the OpenAI admin key: never on a screen
MANAGEMENT = "sk-or-v1-mgmt-" + "m" * 40
DEEPSEEK = "sk-ds-" + "d" * 40
SECRETS = (KEY_A, KEY_B, ROUTER_KEY, ADMIN, MANAGEMENT, DEEPSEEK)
TENANT = "default"


def script_admin(server: FakeProviderServer) -> None:
    """What the fake provider's admin routes report (tui/demo/fakeadmin.py)."""
    admin = server.admin
    admin.openai_keys = [
        ("proj_1", "key_A", "sk-pro...1111"),
        ("proj_1", "key_B", "sk-pro...2222"),
    ]
    for hours in range(0, 60, 3):  # the last 60 hours before T0, every third hour
        at = T0 - timedelta(hours=hours + 1)
        admin.usage["openai"].append(Use(at, "key_A", "gpt-4o", 1000, 100))
        admin.usage["openai"].append(Use(at, "key_B", "gpt-4o-mini", 500, 50))
    admin.key_usage[ROUTER_KEY] = (0.42, 3.5)  # today's and the week's dollars
    admin.credits = (50.0, 12.5)
    admin.fail("deepseek", "balance", "500", times=1000)


async def build_spend_tenant(
    facade: IntegrationsFacade, server: FakeProviderServer
) -> dict[str, str]:
    """The integrations (name -> id), usage byok recorded, and the three accounts (unsynced)."""
    script_admin(server)
    ids = {}
    for name, provider, key in (
        ("prod-openai", "openai", KEY_A),
        ("batch-openai", "openai", KEY_B),
        ("router", "openrouter", ROUTER_KEY),
    ):
        made = await facade.create_integration(
            TENANT, name=name, provider_type=provider, credential=key
        )
        ids[name] = made.id
    await facade.record_usage(
        TENANT, ids["prod-openai"], model="gpt-4o", input_tokens=900, output_tokens=90,
        cost_cents=40.0, at=T0 - timedelta(hours=2),
    )  # fmt: skip
    spend = facade.spend()
    for name, provider, credential in (
        ("org", "openai", ADMIN),
        ("router-mgmt", "openrouter", MANAGEMENT),
        ("ds", "deepseek", DEEPSEEK),
    ):
        spend.add_account(TENANT, name, provider, credential, server.base_url_for(provider))
    return ids
