"""Shared helpers for the health tests: a fake provider server and integrations pointed at it."""

from __future__ import annotations

import asyncio
import secrets as pysecrets
from pathlib import Path

from core import IntegrationsFacade
from tui.demo.fakeprovider import FakeProviderServer

ALL_PROVIDERS = (
    "openai",
    "anthropic",
    "azure_openai",
    "google",
    "mistral",
    "cohere",
    "groq",
    "together",
    "deepseek",
    "openrouter",
    "bedrock",
    "ollama",
    "custom",
)


def key_for(outcome: str) -> str:
    """A fresh, key-shaped secret whose embedded @outcome@ the fake server plays."""
    return f"sk-test@{outcome}@{pysecrets.token_hex(12)}"


async def make(
    facade: IntegrationsFacade,
    server: FakeProviderServer,
    provider: str,
    credential: str,
    *,
    tenant: str = "t1",
    default_model: str | None = None,
    enable: bool = True,
    base_url: str | None = None,
    name: str | None = None,
) -> str:
    detail = await facade.create_integration(
        tenant,
        name=name or f"{provider}-{pysecrets.token_hex(4)}",
        provider_type=provider,
        credential=credential,
        default_model=default_model,
        config={"base_url": base_url or server.base_url_for(provider)},
    )
    if enable:
        await facade.enable_integration(tenant, detail.id)
    return detail.id


def files_containing(roots: list[Path], needle: bytes) -> list[Path]:
    hits = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and needle in path.read_bytes():
                hits.append(path)
    return hits


async def enabled_fleet(
    facade: IntegrationsFacade, server: FakeProviderServer, n: int, outcome: str
) -> None:
    """`n` enabled openai integrations of t1 on `server`, each playing `outcome`."""
    items = [
        {"name": f"n{i}", "provider_type": "openai", "credential": key_for(outcome),
         "config": {"base_url": server.base_url_for("openai")}}
        for i in range(n)
    ]  # fmt: skip
    for d in await facade.create_integrations("t1", items):
        await facade.enable_integration("t1", d.id)


async def drained(server: FakeProviderServer) -> None:
    """Reset the server's counters once earlier clients' connections have closed on its side
    (slowly on a loaded machine): reset() would count them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while server.stats()["open_connections"] and loop.time() < deadline:
        await asyncio.sleep(0.05)
    server.reset()
