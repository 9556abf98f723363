"""Budget alerts: the Master is told once per UTC day when proactive usage crosses each of
BUDGET_ALERT_THRESHOLDS (default 50, 80, 95 percent) of the daily token limit, and of the
daily cost limit when PROACTIVE_DAILY_COST_LIMIT_USD is set.

A crossing is seen where the charge that makes it is counted: every proactive ledger row
carries the day's totals before and after it, read under the counter's row lock
(`budget.tally.CallTally.spans`), so exactly one charge crosses each threshold, however
many workers run. The outbox key (`budget-alert:<day>:<pct>`, `budget-alert:<day>:cost:<pct>`)
makes the message once a day even if the same crossing is reported twice. Called by the
cycle's close and after an approved action's execution, so it costs nothing (no read, no
write) unless a threshold was crossed.
"""

from datetime import date
from decimal import Decimal

from django.conf import settings

from budget.pricing import cost_limit_micros, money_text

from .models import NotificationKind
from .outbox import notification_enqueue


def _tokens_short(n: int) -> str:
    """5600000 -> "5.6M", 7000000 -> "7M", 12500 -> "12.5k"."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size:
            return f"{(Decimal(n) / size).quantize(Decimal('0.1')).normalize():f}{suffix}"
    return str(n)


def _crossed(before: int, after: int, limit: int | None) -> list[int]:
    """The thresholds (percent) that a total moving from `before` to `after` passes."""
    if not limit:
        return []
    # pct% of limit reached: after * 100 >= pct * limit (integers: no rounding at the edge).
    return [pct for pct in settings.BUDGET_ALERT_THRESHOLDS if before * 100 < pct * limit <= after * 100]


def budget_alert_text(*, pct: int, cost: bool, tokens: int, cost_micros: int) -> str:
    token_limit = settings.PROACTIVE_DAILY_TOKEN_LIMIT
    if cost:
        return (
            f"Budget: {pct}% of today's proactive cost limit used ({money_text(cost_micros)} of "
            f"{money_text(cost_limit_micros() or 0)}), {_tokens_short(tokens)} of {_tokens_short(token_limit)} tokens"
        )
    return (
        f"Budget: {pct}% of today's proactive tokens used ({_tokens_short(tokens)} of {_tokens_short(token_limit)}), "
        f"{money_text(cost_micros)} spent today"
    )


def budget_alerts_tell(*, spans: list) -> list[str]:
    """Queue one alert per threshold crossed by the charges in `spans` ((day, (tokens, cost)
    before, (tokens, cost) after) each); returns the outbox keys queued (idempotent)."""
    if not spans or not settings.BUDGET_ALERT_THRESHOLDS:
        return []
    token_limit, cost_limit = settings.PROACTIVE_DAILY_TOKEN_LIMIT, cost_limit_micros()
    keys = []
    for day, before, after in spans:
        for cost, limit in ((False, token_limit), (True, cost_limit)):
            index = 1 if cost else 0
            for pct in _crossed(before[index], after[index], limit):
                keys.append(_tell(day=day, pct=pct, cost=cost, after=after))
    return keys


def _tell(*, day: date, pct: int, cost: bool, after: tuple[int, int]) -> str:
    key = f"budget-alert:{day.isoformat()}:{'cost:' if cost else ''}{pct}"
    notification_enqueue(
        kind=NotificationKind.BUDGET_ALERT,
        text=budget_alert_text(pct=pct, cost=cost, tokens=after[0], cost_micros=after[1]),
        key=key,
    )
    return key
