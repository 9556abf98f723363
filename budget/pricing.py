"""Money: what a model call costs, in integer micro-dollars (1 USD = 1,000,000 micros).

Prices are USD per million tokens, so a token count times its price IS micro-dollars.
The table is `settings.MODEL_PRICES` (base.py, `MODEL_PRICES_JSON` adds or replaces
entries): model id prefixes ("claude-sonnet") to input and output prices, with cache writes
at 1.25x input and cache reads at 0.1x input unless given. A model id takes the entry of
its longest matching prefix ("claude-sonnet-5-5" -> "claude-sonnet"), else of its family
word ("claude-3-5-sonnet-20241022" -> the entry whose last word is "sonnet"); an unknown
model takes the most expensive entry, so an estimate never undercounts. Costs are rounded
up to the next micro-dollar, for the same reason.
"""

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.conf import settings

from .usage import TokenUsage

MICROS_PER_USD = 1_000_000
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_READ_FACTOR = Decimal("0.1")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens of each category (so: micro-dollars per token)."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal

    @classmethod
    def from_entry(cls, entry: dict) -> "ModelPrice":
        base = Decimal(entry["input"])
        return cls(
            input=base,
            output=Decimal(entry["output"]),
            cache_write=Decimal(entry.get("cache_write", base * CACHE_WRITE_FACTOR)),
            cache_read=Decimal(entry.get("cache_read", base * CACHE_READ_FACTOR)),
        )

    @property
    def weight(self) -> Decimal:
        return self.input + self.output + self.cache_write + self.cache_read


def _table() -> dict[str, ModelPrice]:
    return {key.lower(): ModelPrice.from_entry(entry) for key, entry in settings.MODEL_PRICES.items()}


def price_for(*, model: str) -> ModelPrice:
    """The price of `model`: its longest prefix entry, its family's, else the dearest."""
    table = _table()
    if not table:
        raise ValueError("MODEL_PRICES is empty: no model can be priced")
    name = (model or "").strip().lower()
    prefixes = [key for key in table if name == key or name.startswith(key + "-")]
    if prefixes:
        return table[max(prefixes, key=len)]
    words = set(name.split("-"))
    family = [key for key in table if key.rsplit("-", 1)[-1] in words]
    if family:
        return max((table[key] for key in family), key=lambda price: price.weight)
    return max(table.values(), key=lambda price: (price.output, price.weight))


def _micros(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def cost_micros(*, usage: TokenUsage, model: str) -> int:
    """The cost of one call's usage, in micro-dollars (rounded up)."""
    price = price_for(model=model)
    return _micros(
        usage.input * price.input + usage.output * price.output
        + usage.cache_creation * price.cache_write + usage.cache_read * price.cache_read
    )


def cost_bound_micros(*, input_bound: int, max_tokens: int, model: str) -> int:
    """The most a call can cost: every input token at the dearer of input and cache-write
    prices, plus max_tokens of output."""
    price = price_for(model=model)
    return _micros(input_bound * max(price.input, price.cache_write) + max_tokens * price.output)


def cost_limit_micros() -> int | None:
    """PROACTIVE_DAILY_COST_LIMIT_USD in micro-dollars; None when no cost limit is set."""
    limit = settings.PROACTIVE_DAILY_COST_LIMIT_USD
    if limit is None:
        return None
    return _micros(Decimal(limit) * MICROS_PER_USD)


def min_cycle_cost_micros() -> int:
    """What PROACTIVE_MIN_CYCLE_TOKENS cost at the agent model's dearest token price: below
    this much of the cost limit left, the budget counts as exhausted."""
    price = price_for(model=settings.AGENT_MODEL)
    return _micros(settings.PROACTIVE_MIN_CYCLE_TOKENS * max(price.input, price.cache_write, price.output))


def usd(micros: int | None) -> Decimal | None:
    """Micro-dollars as an exact Decimal of USD (6 places)."""
    if micros is None:
        return None
    return (Decimal(micros) / MICROS_PER_USD).quantize(Decimal("0.000001"))


def money_text(micros: int) -> str:
    """For people, rounded half up: "$12.35", "$0.0042" below a dollar (so a small day
    doesn't read $0.00)."""
    dollars = Decimal(micros) / MICROS_PER_USD
    if micros and dollars < 1:
        return f"${dollars.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}"
    return f"${dollars.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def cost_ratio(*, used: int, limit: int | None) -> float | None:
    """Share of the cost limit used (None without a limit)."""
    if limit is None:
        return None
    return used / limit if limit else math.inf
