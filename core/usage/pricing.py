"""What a call costs, from genai-prices (a maintained price table that ships with its data, so
pricing works offline).

genai-prices' own `calc_price` resolves the provider and model and walks its unit registry on every
call (about 130 µs), far too slow for 20,000 events a second. Here the model lookup is cached per
(provider, model) and each price set is turned once into integer rates in nano-cents, so pricing an
event is a handful of integer multiplications. Every derived rate set is checked once against
`calc_price` on probe usages; a price set that does not reproduce it exactly (an exotic unit) is
priced through `calc_price` itself, so the fast path can never silently disagree with the table.

A call may report more than the four counts (`extra`: 1-hour cache writes, web searches, audio
tokens..., genai-prices usage keys from `core.usage.shapes`). When its price set prices one of
them, the call is priced by the price set's own `calc_price` on the whole usage; a count the set
does not price changes nothing (genai-prices leaves it inside its parent count), so the fast path
stays exact. If genai-prices refuses the usage (counts it cannot decompose), the four counts price
it.

Money inside byok is integer nano-cents (1e-9 cent): sums are exact, and a total is rounded to a
whole cent only when shown.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from core.enums import ProviderType
from core.timeutil import from_us, utc_now

if TYPE_CHECKING:  # genai-prices (and the pydantic under it) is loaded by the first PriceTable
    from genai_prices.types import ModelInfo, ModelPrice, TieredPrices

NC_PER_CENT = 10**9
NC_PER_USD = 100 * NC_PER_CENT

# Our provider types -> genai-prices provider ids. Ollama runs models locally and `custom` is any
# OpenAI-compatible server (vLLM, LM Studio, a LiteLLM proxy): there is no list price to apply, so
# they are unpriced unless the integration's config names a provider to price as
# (`pricing_provider`, e.g. "openai" for a LiteLLM proxy that forwards to OpenAI).
PROVIDER_IDS: Mapping[ProviderType, str | None] = {
    ProviderType.OPENAI: "openai",
    ProviderType.ANTHROPIC: "anthropic",
    ProviderType.AZURE_OPENAI: "azure",
    ProviderType.GOOGLE: "google",
    ProviderType.MISTRAL: "mistral",
    ProviderType.COHERE: "cohere",
    ProviderType.GROQ: "groq",
    ProviderType.TOGETHER: "together",
    ProviderType.DEEPSEEK: "deepseek",
    ProviderType.OPENROUTER: "openrouter",
    ProviderType.BEDROCK: "aws",
    ProviderType.OLLAMA: None,
    ProviderType.CUSTOM: None,
}
CONFIG_KEY = "pricing_provider"

# (input, output, cache read, cache write) token probes, one above the usual 200k tier threshold.
_PROBES = ((1000, 500, 100, 50), (7, 3, 2, 1), (0, 0, 0, 0), (250_001, 1234, 0, 0), (3, 0, 3, 0))

Rate = int | Decimal
Tiered = tuple[Rate, tuple[tuple[int, Rate], ...]]


def _scaled(price: Decimal, per: int) -> Rate:
    """A price in USD per `per` units as nano-cents per unit: an int when exact, else a Decimal."""
    value = price * NC_PER_USD / per
    return int(value) if value == value.to_integral_value() else value


def _rate(price: Decimal | TieredPrices | None, per: int) -> Tiered | None:
    from genai_prices.types import TieredPrices  # once per price set, not per call

    if price is None:
        return None
    if isinstance(price, TieredPrices):
        tiers = tuple((t.start, _scaled(t.price, per)) for t in price.tiers)
        return (_scaled(price.base, per), tiers)
    return (_scaled(price, per), ())


def _pick(rate: Tiered, total_input: int) -> Rate:
    base, tiers = rate
    # genai-prices' threshold ("cliff") tiers: crossing a tier's start prices every token at it.
    for start, price in reversed(tiers):
        if total_input > start:
            return price
    return base


@dataclass(frozen=True, slots=True)
class _Rates:
    """One price set of one model, as nano-cent rates. `exact` is False when it must fall back."""

    input: Tiered | None
    output: Tiered | None
    cache_read: Tiered | None
    cache_write: Tiered | None
    request: Tiered | None
    source: ModelPrice
    exact: bool = True
    priced: frozenset[str] = frozenset()  # the usage keys beyond the four this set prices

    def cost(
        self,
        inp: int,
        out: int,
        cache_read: int,
        cache_write: int,
        extra: Mapping[str, int] | None = None,
    ) -> int:
        if extra and not self.priced.isdisjoint(extra):
            try:
                return _slow(self.source, {**extra, **_counts(inp, out, cache_read, cache_write)})
            except ValueError:  # not decomposable by genai-prices: the four counts price it
                pass
        if not self.exact:
            return _slow(self.source, _counts(inp, out, cache_read, cache_write))
        total: Rate = 0
        uncached = inp
        if self.cache_read is not None:
            uncached -= cache_read
            total += cache_read * _pick(self.cache_read, inp)
        if self.cache_write is not None:
            uncached -= cache_write
            total += cache_write * _pick(self.cache_write, inp)
        if self.input is not None:
            total += uncached * _pick(self.input, inp)
        if self.output is not None:
            total += out * _pick(self.output, inp)
        if self.request is not None:
            total += _pick(self.request, inp)
        if isinstance(total, int):
            return total
        return int(total.to_integral_value(ROUND_HALF_UP))


# The four counts byok prices on its fast path (genai-prices usage keys); the store keeps two.
BASIC = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _counts(*values: int) -> dict[str, int]:
    """The four counts (input, output, cache read, cache write) as genai-prices usage keys."""
    return dict(zip(BASIC, values, strict=True))


def _slow(price: ModelPrice, counts: Mapping[str, int]) -> int:
    from genai_prices import Usage  # beside calc_price's ~130 µs a cached import is nothing

    usd = price.calc_price(Usage(**counts))["total_price"]
    return int((usd * NC_PER_USD).to_integral_value(ROUND_HALF_UP))


def _priced_keys(price: ModelPrice) -> frozenset[str]:
    from genai_prices.data_units import unit_data

    usage_key = {unit.get("price_key", key): key for key, unit in unit_data.items()}
    keys = {usage_key.get(k) for k, value in vars(price).items() if value is not None}
    return frozenset(k for k in keys if k is not None) - {*BASIC, "requests"}


def _derive(price: ModelPrice) -> _Rates:
    priced = _priced_keys(price)
    rates = _Rates(
        input=_rate(price.input_mtok, 10**6),
        output=_rate(price.output_mtok, 10**6),
        cache_read=_rate(price.cache_read_mtok, 10**6),
        cache_write=_rate(price.cache_write_mtok, 10**6),
        request=_rate(price.requests_kcount, 10**3),
        source=price,
        priced=priced,
    )
    try:
        same = all(
            rates.cost(*p) == _slow(price, _counts(*p)) for p in _PROBES if p[2] + p[3] <= p[0]
        )
    except (ValueError, ArithmeticError):
        same = False
    if same:
        return rates
    return _Rates(None, None, None, None, None, source=price, exact=False, priced=priced)


class PriceTable:
    """Prices calls; thread-safe, with every lookup cached for the life of the process."""

    def __init__(self) -> None:
        # Imported here, not at module level: importing `core` must not cost genai-prices'
        # ~200 ms; the usage service builds its table on the first call that needs a price.
        from genai_prices.data_snapshot import get_snapshot
        from genai_prices.types import ModelPrice

        self._snapshot = get_snapshot
        self._model_price = ModelPrice
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], ModelInfo | None] = {}
        self._rates: dict[int, _Rates] = {}

    @staticmethod
    def provider_id(
        provider_type: ProviderType | str, config: Mapping[str, Any] | None
    ) -> str | None:
        override = (config or {}).get(CONFIG_KEY)
        if isinstance(override, str) and override.strip():
            return override.strip().lower()
        try:
            return PROVIDER_IDS[ProviderType(provider_type)]
        except ValueError:
            return None

    def model(self, provider_id: str, model: str) -> ModelInfo | None:
        key = (provider_id, model)
        try:
            return self._models[key]
        except KeyError:
            pass
        try:
            _, info = self._snapshot().find_provider_model(model, None, provider_id, None)
        except LookupError:
            info = None
        with self._lock:
            self._models[key] = info
        return info

    def rates(self, price: ModelPrice) -> _Rates:
        found = self._rates.get(id(price))
        if found is not None and found.source is price:
            return found
        rates = _derive(price)
        with self._lock:
            self._rates[id(price)] = rates
        return rates

    def cost_nc(
        self,
        provider_id: str | None,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        at_us: int | None = None,
        extra: Mapping[str, int] | None = None,
    ) -> int | None:
        """The price of one call in nano-cents, or None when the table has no price for it.
        `extra`: the call's other genai-prices usage counts (see the module's docstring)."""
        if provider_id is None:
            return None
        info = self.model(provider_id, model)
        if info is None:
            return None
        prices = info.prices
        if isinstance(prices, self._model_price):
            price = prices
        else:  # dated or time-of-day prices: pick the set in force when the call happened
            when = from_us(at_us) if at_us is not None else utc_now()
            price = info.get_prices(when)
        return self.rates(price).cost(
            input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, extra
        )


def nc_to_cents(nc: int) -> float:
    """Nano-cents as a float number of cents, for results (sums are kept exact elsewhere)."""
    return float(Decimal(nc).scaleb(-9))


def nc_round_cents(nc: int) -> int:
    """Nano-cents rounded to whole cents, half up (0.5 cent -> 1 cent), as people expect."""
    return (nc + NC_PER_CENT // 2) // NC_PER_CENT if nc >= 0 else -nc_round_cents(-nc)
