"""A fixed sample tenant for snapshot tests, screenshots and the console benchmark.

Everything is deterministic for a given clock: names, limits, usage and probe outcomes. Probe
outcomes are written through the core's own repository and health log with fixed latencies
(real probes would make every snapshot differ by a millisecond); tests that need real probes
run them against the fake provider server instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core import IntegrationsFacade
from core.enums import HealthState
from core.health.log import HealthLog
from core.timeutil import to_iso

SECRET = "sk-test-sample-Zq8vX9aQ"  # snapshot tests assert that this never appears on screen

# name, provider, credential, config, model, budget cents, tokens, rpm, enabled
INTEGRATIONS: list[tuple[Any, ...]] = [
    ("openai-prod", "openai", SECRET, {}, "gpt-4o-mini", 50_000, 2_000_000, 600, True),
    (
        "anthropic-research",
        "anthropic",
        "env:ANTHROPIC_API_KEY",
        {},
        "claude-sonnet-4-5",
        20_000,
        0,
        60,
        True,
    ),
    (
        "azure-eu",
        "azure_openai",
        "sk-test-azure-0000rV1d",
        {"base_url": "https://contoso-eu.openai.azure.com", "api_version": "2024-10-21"},
        "gpt-4o",
        10_000,
        500_000,
        0,
        True,
    ),
    (
        "local-llama",
        "ollama",
        "",
        {"base_url": "http://127.0.0.1:11434"},
        "llama3.2",
        0,
        0,
        0,
        True,
    ),
    (
        "deepseek-cheap",
        "deepseek",
        "file:/run/secrets/deepseek",
        {},
        "deepseek-chat",
        2_000,
        1_000_000,
        30,
        True,
    ),
    ("groq-batch", "groq", "sk-test-groq-0000G7qk", {}, None, 0, 0, 30, False),
    (
        "mistral-dev",
        "mistral",
        "env:MISTRAL_API_KEY",
        {},
        "mistral-small-latest",
        5_000,
        0,
        0,
        False,
    ),
]

# name -> (state, reason, message, latency ms, minutes ago)
HEALTH: dict[str, tuple[HealthState, str, str, int, int]] = {
    "openai-prod": (HealthState.HEALTHY, "ok", "key works; 3 models", 182, 3),
    "anthropic-research": (HealthState.DEGRADED, "slow", "answered in 2,730 ms", 2730, 7),
    "azure-eu": (HealthState.FAILING, "invalid_key", "401: the key was refused", 96, 12),
    "local-llama": (HealthState.HEALTHY, "ok", "server answers; 3 models", 4, 1),
    "deepseek-cheap": (HealthState.HEALTHY, "ok", "key works; 2 models", 240, 25),
}
LATENCY_HISTORY = [180, 175, 190, 210, 460, 230, 182, 176, 181, 199, 170, 182]

# name -> (cost cents, input tokens, output tokens) recorded this month, plus calls in the minute
USAGE: dict[str, tuple[float, int, int, int]] = {
    "openai-prod": (41_250, 1_100_000, 420_000, 212),
    "anthropic-research": (9_800, 600_000, 90_000, 12),
    "azure-eu": (10_400, 380_000, 60_000, 0),
    "deepseek-cheap": (2_480, 700_000, 130_000, 31),
    "mistral-dev": (120, 40_000, 2_000, 0),
}


async def build_sample(facade: IntegrationsFacade, tenant_id: str = "default") -> dict[str, str]:
    """Create the sample tenant on an empty database; returns name -> integration id."""
    now: datetime = facade.context.clock()
    created = await facade.create_integrations(
        tenant_id,
        [
            {
                "name": name,
                "provider_type": kind,
                "credential": cred,
                "config": cfg,
                "default_model": model,
                "budget_limit_cents": budget,
                "token_limit_month": tokens,
                "rate_limit_rpm": rpm,
                "created_by": "ops",
            }
            for name, kind, cred, cfg, model, budget, tokens, rpm, _ in INTEGRATIONS
        ],
    )
    ids = {d.name: d.id for d in created}
    for name, *_, enabled in INTEGRATIONS:
        if enabled:
            await facade.enable_integration(tenant_id, ids[name])
        elif name == "mistral-dev":
            await facade.disable_integration(tenant_id, ids[name])
    outcomes, entries = [], []
    for seq, (name, (state, reason, message, ms, minutes)) in enumerate(HEALTH.items()):
        at = to_iso(now - timedelta(minutes=minutes))
        outcomes.append(
            {
                "integration_id": ids[name],
                "state": state,
                "reason": reason,
                "message": message,
                "latency_ms": ms,
                "checked_at": at,
            }
        )
        history = LATENCY_HISTORY if name == "openai-prod" else [ms]
        for back, value in enumerate(history):
            last = back == len(history) - 1
            entries.append(
                {
                    "tenant_id": tenant_id,
                    "integration_id": ids[name],
                    "integration_name": name,
                    "provider_type": None,
                    "health_state": (state if last else HealthState.HEALTHY).value,
                    "reason": reason if last else "ok",
                    "message": message if last else "key works",
                    "latency_ms": ms if last else value,
                    "http_status": 200,
                    "deep": False,
                    "checked_at": to_iso(
                        now - timedelta(minutes=minutes + 10 * (len(history) - 1 - back))
                    ),
                    "seq": seq * 100 + back,
                }
            )
    facade.context.repo.apply_health_many(tenant_id, outcomes)
    log = HealthLog(facade.context.side_path("health"), durable=facade.context.store.durable)
    try:
        log.append_many(entries)
    finally:
        log.close()
    for name, (cents, tin, tout, recent) in USAGE.items():
        records: list[dict[str, Any]] = [
            {
                "integration_id": ids[name],
                "model": "m",
                "input_tokens": tin,
                "output_tokens": tout,
                "cost_cents": cents,
                "call_id": f"{name}-bulk",
                "at": now - timedelta(days=0, hours=2),
            }
        ]
        records += [
            {
                "integration_id": ids[name],
                "model": "m",
                "input_tokens": 0,
                "output_tokens": 0,
                "cost_cents": 0,
                "call_id": f"{name}-recent-{i}",
                "at": now - timedelta(seconds=20),
            }
            for i in range(recent)
        ]
        await facade.record_usage_batch(tenant_id, records)
    return ids
