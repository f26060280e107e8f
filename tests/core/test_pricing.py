"""Pricing: our provider types map onto genai-prices, the cached fast path agrees exactly with
genai-prices' own calc_price, and a model without a price is unpriced, never a silent $0."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelPrice

from core import IntegrationsFacade, ProviderType
from core.usage.pricing import NC_PER_USD, PROVIDER_IDS, PriceTable, nc_round_cents, nc_to_cents

T = "acme"

# One real, priced model per provider type that has list prices.
PRICED = {
    ProviderType.OPENAI: "gpt-4o",
    ProviderType.ANTHROPIC: "claude-3-5-sonnet-20241022",
    ProviderType.AZURE_OPENAI: "gpt-4o",
    ProviderType.GOOGLE: "gemini-1.5-flash",
    ProviderType.MISTRAL: "mistral-large-latest",
    ProviderType.COHERE: "command-r-plus",
    ProviderType.GROQ: "llama-3.1-8b-instant",
    ProviderType.TOGETHER: "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    ProviderType.DEEPSEEK: "deepseek-chat",
    ProviderType.OPENROUTER: "anthropic/claude-3.5-sonnet",
    ProviderType.BEDROCK: "anthropic.claude-3-5-sonnet-20240620-v1:0",
}


def _expected_nc(provider_id: str, model: str, inp: int, out: int, cr: int = 0, cw: int = 0) -> int:
    usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
    usd = calc_price(usage, model, provider_id=provider_id).total_price
    value = usd * NC_PER_USD
    assert value == value.to_integral_value()  # the table's prices are exact in nano-cents
    return int(value)


def test_every_provider_type_is_mapped() -> None:
    assert set(PROVIDER_IDS) == set(ProviderType)
    assert PROVIDER_IDS[ProviderType.OLLAMA] is None
    assert PROVIDER_IDS[ProviderType.CUSTOM] is None
    assert PROVIDER_IDS[ProviderType.BEDROCK] == "aws"
    assert PROVIDER_IDS[ProviderType.AZURE_OPENAI] == "azure"


@pytest.mark.parametrize("kind", sorted(PRICED, key=str))
def test_each_priced_provider_matches_calc_price(kind: ProviderType) -> None:
    table = PriceTable()
    pid = PriceTable.provider_id(kind, {})
    assert pid is not None
    model = PRICED[kind]
    got = table.cost_nc(pid, model, 12_345, 678)
    assert got is not None and got > 0
    assert got == _expected_nc(pid, model, 12_345, 678)


def test_known_price_in_cents() -> None:
    # gpt-4o: $2.50 / MTok input, $10 / MTok output -> 1000 in + 500 out = $0.0075 = 0.75 cents.
    table = PriceTable()
    assert table.cost_nc("openai", "gpt-4o", 1000, 500) == 750_000_000
    # 100 of the 1000 input tokens were cache reads at $1.25 / MTok: 0.7375 cents.
    assert table.cost_nc("openai", "gpt-4o", 1000, 500, cache_read_tokens=100) == 737_500_000


def test_unknown_model_and_local_providers_are_unpriced() -> None:
    table = PriceTable()
    assert table.cost_nc("openai", "no-such-model-xyz", 10, 10) is None
    assert table.cost_nc(None, "llama3", 10, 10) is None
    assert PriceTable.provider_id(ProviderType.OLLAMA, {}) is None
    assert PriceTable.provider_id(ProviderType.CUSTOM, {"base_url": "http://x"}) is None
    assert PriceTable.provider_id("custom", {"pricing_provider": "OpenAI"}) == "openai"
    assert table.cost_nc("no-such-provider", "gpt-4o", 1, 1) is None


def test_fast_path_reproduces_calc_price_for_every_price_set() -> None:
    """Every price set in the shipped table, on usages that include cache tokens and a long
    context past the 200k tier thresholds: the integer rates equal calc_price to the nano-cent."""
    table = PriceTable()
    usages = [(12_345, 678, 1000, 200), (300_000, 10, 5, 5), (1, 1, 0, 0), (0, 0, 0, 0)]
    checked = 0
    for provider in get_snapshot().providers:
        for model in provider.models:
            prices = model.prices
            sets = [prices] if isinstance(prices, ModelPrice) else [c.prices for c in prices]
            for price in sets:
                rates = table.rates(price)
                for inp, out, cr, cw in usages:
                    usage = Usage(
                        input_tokens=inp, output_tokens=out, cache_read_tokens=cr,
                        cache_write_tokens=cw,
                    )
                    want = price.calc_price(usage)["total_price"] * NC_PER_USD
                    got = rates.cost(inp, out, cr, cw)
                    assert abs(Decimal(got) - want) <= Decimal("0.5"), (provider.id, model.id)
                checked += 1
    assert checked > 1000


def test_time_dependent_prices_follow_the_call_time() -> None:
    """deepseek-chat has off-peak (time-of-day) prices: the call's time picks the price set."""
    table = PriceTable()
    info = table.model("deepseek", "deepseek-chat")
    assert info is not None and not isinstance(info.prices, ModelPrice)
    early = 1_700_000_000 * 10**6  # 2023-11
    late = 1_790_000_000 * 10**6  # 2026-09
    a = table.cost_nc("deepseek", "deepseek-chat", 1_000_000, 0, at_us=early)
    b = table.cost_nc("deepseek", "deepseek-chat", 1_000_000, 0, at_us=late)
    assert a is not None and b is not None and a != b

    for at_us, got in ((early, a), (late, b)):
        when = datetime.fromtimestamp(at_us / 1e6, UTC)
        usd = calc_price(
            Usage(input_tokens=1_000_000), "deepseek-chat", provider_id="deepseek",
            genai_request_timestamp=when,
        ).total_price
        assert got == int(usd * NC_PER_USD)


def test_cent_rounding_is_half_up() -> None:
    assert nc_round_cents(499_999_999) == 0
    assert nc_round_cents(500_000_000) == 1  # 0.5 cent -> 1 cent
    assert nc_round_cents(1_500_000_000) == 2
    assert nc_round_cents(2_500_000_000) == 3  # not banker's rounding
    assert nc_to_cents(750_000_000) == 0.75


async def test_record_usage_prices_through_the_integration(facade: IntegrationsFacade) -> None:
    oa = await facade.create_integration(T, name="oa", provider_type="openai", credential="sk-x1")
    local = await facade.create_integration(T, name="local", provider_type="ollama")
    proxy = await facade.create_integration(
        T, name="proxy", provider_type="custom",
        config={"base_url": "http://127.0.0.1:4000/v1", "pricing_provider": "openai"},
    )
    r = await facade.record_usage(T, oa.id, model="gpt-4o", input_tokens=1000, output_tokens=500)
    assert r is not None and r.priced and r.cost_cents == 0.75
    r = await facade.record_usage(T, local.id, model="llama3.1", input_tokens=10, output_tokens=5)
    assert r is not None and not r.priced and r.cost_cents == 0.0
    r = await facade.record_usage(T, proxy.id, model="gpt-4o", input_tokens=1000, output_tokens=500)
    assert r is not None and r.priced and r.cost_cents == 0.75
    # a given cost is used as is and counts as priced, also for a local model
    r = await facade.record_usage(
        T, local.id, model="llama3.1", input_tokens=1, output_tokens=1, cost_cents=0.25
    )
    assert r is not None and r.priced and r.cost_cents == 0.25
    status = await facade.get_limits_status(T, local.id)
    assert status is not None and status.unpriced_calls == 1 and status.requests_month == 2


def test_extra_counts_price_as_calc_price_for_every_price_set() -> None:
    """1-hour cache writes, web searches, audio and reasoning tokens beside the four counts: every
    price set in the table prices them as its own calc_price does, to the nano-cent (or, where
    genai-prices refuses the usage, as the four counts alone)."""
    table = PriceTable()
    extra = {"cache_write_1h_tokens": 300, "cache_write_5m_tokens": 100, "web_searches": 2,
             "input_audio_tokens": 50, "output_reasoning_tokens": 40}
    inp, out, cr, cw = 12_345, 678, 1000, 400
    priced_extra = checked = 0
    for provider in get_snapshot().providers:
        for model in provider.models:
            prices = model.prices
            for price in [prices] if isinstance(prices, ModelPrice) else [c.prices for c in prices]:
                got = table.rates(price).cost(inp, out, cr, cw, extra)
                usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr,
                              cache_write_tokens=cw, **extra)
                try:
                    usd = price.calc_price(usage)["total_price"]
                except ValueError:
                    usd = price.calc_price(Usage(input_tokens=inp, output_tokens=out,
                                                 cache_read_tokens=cr,
                                                 cache_write_tokens=cw))["total_price"]
                want = int((usd * NC_PER_USD).to_integral_value(ROUND_HALF_UP))
                assert got == want, (provider.id, model.id)
                priced_extra += got != table.rates(price).cost(inp, out, cr, cw)
                checked += 1
    assert checked > 1000 and priced_extra > 100  # many sets price one of them
