"""Budget reads. Each reads one counter row per scope (plus the few open
reservations), never the ledger, so its cost does not grow with history."""

from datetime import date, timedelta

from django.conf import settings
from django.db.models import Subquery, Sum, Value
from django.db.models.functions import Coalesce

from agentsite.core.clock import utc_today
from .models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from .pricing import cost_limit_micros, cost_ratio, min_cycle_cost_micros

WARNING_RATIO = 0.80
CRITICAL_RATIO = 0.95
# The counter fields budget_stats reads (and budget_stats_from expects of a caller's read).
STATS_FIELDS = ("scope", "used", "reserved", "used_cost_micros", "reserved_cost_micros")


class Level:
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    EXHAUSTED = "exhausted"


def budget_usage(*, scope: str, day: date | None = None) -> int:
    """Settled tokens of one scope on one UTC day."""
    counter = DailyCounter.objects.filter(day=day or utc_today(), scope=scope).first()
    return counter.used if counter else 0


def budget_reserved(*, day: date | None = None, scope: str = Scope.PROACTIVE) -> int:
    """Tokens held by open reservations. A stale one still counts: the next sweep charges
    it (its dead caller's call may have been answered), it never frees it."""
    total = Reservation.objects.filter(
        day=day or utc_today(),
        scope=scope,
        status=ReservationStatus.ACTIVE,
    ).aggregate(total=Sum("amount"))["total"]
    return total or 0


def budget_remaining(*, day: date | None = None) -> int:
    """Proactive tokens still available today (reactive is unlimited)."""
    day = day or utc_today()
    used = budget_usage(scope=Scope.PROACTIVE, day=day)
    reserved = budget_reserved(day=day)
    return max(0, settings.PROACTIVE_DAILY_TOKEN_LIMIT - used - reserved)


def budget_level(
    *, used: int, remaining: int, limit: int, cost_used: int = 0, cost_remaining: int | None = None,
    cost_limit: int | None = None,
) -> str:
    """THE budget-level rule: exhausted when not even a cycle's minimum fits (in tokens, or in
    money under PROACTIVE_DAILY_COST_LIMIT_USD), else by the larger share of today's limits used."""
    if remaining < settings.PROACTIVE_MIN_CYCLE_TOKENS:
        return Level.EXHAUSTED
    if cost_remaining is not None and cost_remaining < min_cycle_cost_micros():
        return Level.EXHAUSTED
    ratio = max(used / limit if limit else 1.0, cost_ratio(used=cost_used, limit=cost_limit) or 0.0)
    if ratio >= CRITICAL_RATIO:
        return Level.CRITICAL
    if ratio >= WARNING_RATIO:
        return Level.WARNING
    return Level.OK


def budget_proactive(*, used: int, reserved: int, used_cost: int = 0, reserved_cost: int = 0) -> dict:
    """The proactive budget's state from its day's used and reserved tokens and cost (the one
    rule `budget_stats` and a cycle's single read share). Cost in micro-dollars; its limit
    and what remains of it are None without PROACTIVE_DAILY_COST_LIMIT_USD."""
    limit = settings.PROACTIVE_DAILY_TOKEN_LIMIT
    remaining = max(0, limit - used - reserved)
    cost_limit = cost_limit_micros()
    cost_remaining = None if cost_limit is None else max(0, cost_limit - used_cost - reserved_cost)
    ratio = cost_ratio(used=used_cost, limit=cost_limit)
    return {
        "limit": limit,
        "used": used,
        "reserved": reserved,
        "remaining": remaining,
        "usage_ratio": round(used / limit, 6) if limit else 1.0,
        "level": budget_level(
            used=used, remaining=remaining, limit=limit, cost_used=used_cost, cost_remaining=cost_remaining,
            cost_limit=cost_limit,
        ),
        "cost_used_micros": used_cost,
        "cost_reserved_micros": reserved_cost,
        "cost_limit_micros": cost_limit,
        "cost_remaining_micros": cost_remaining,
        "cost_usage_ratio": None if ratio is None else round(ratio, 6),
    }


def budget_stats(*, day: date | None = None) -> dict:
    """The `/stats` payload: usage and cost (micro-dollars) by scope, and the proactive
    budget's state, from the day's counter rows."""
    day = day or utc_today()
    # One read: both scopes' counter rows (the counter's `reserved` is the open reservations' sum).
    counters = {row["scope"]: row for row in DailyCounter.objects.filter(day=day).values(*STATS_FIELDS)}
    return budget_stats_from(day=day, counters=counters)


def budget_stats_from(*, day: date, counters: dict) -> dict:
    """`budget_stats` from the day's counter values already read ({scope: {field: value}} with
    STATS_FIELDS), for a caller that folds them into its own read."""
    proactive, reactive = counters.get(Scope.PROACTIVE) or {}, counters.get(Scope.REACTIVE) or {}
    used = proactive.get("used") or 0
    costs = {scope: (counters.get(scope) or {}).get("used_cost_micros") or 0 for scope in Scope.values}
    return {
        "date": day.isoformat(),
        "token_usage_today": {"proactive": used, "reactive": reactive.get("used") or 0},
        "cost_micros_today": {**costs, "total": sum(costs.values())},
        "proactive": budget_proactive(
            used=used, reserved=proactive.get("reserved") or 0, used_cost=costs[Scope.PROACTIVE],
            reserved_cost=proactive.get("reserved_cost_micros") or 0,
        ),
    }


def budget_cost(*, day: date | None = None) -> dict:
    """Today's and this month's (UTC) cost in micro-dollars, by scope and in total, with the
    daily cost limit (None if unset). One read of the month's counter rows (at most 62)."""
    day = day or utc_today()
    first = day.replace(day=1)
    rows = DailyCounter.objects.filter(day__gte=first, day__lte=day).values_list("day", "scope", "used_cost_micros")
    today = {scope: 0 for scope in Scope.values}
    month = {scope: 0 for scope in Scope.values}
    for row_day, scope, micros in rows:
        month[scope] = month.get(scope, 0) + micros
        if row_day == day:
            today[scope] = today.get(scope, 0) + micros
    return {
        "date": day.isoformat(),
        "month": first.strftime("%Y-%m"),
        "today": {**today, "total": sum(today.values())},
        "this_month": {**month, "total": sum(month.values())},
        "limit": cost_limit_micros(),
    }


def budget_counter_subquery(*, field: str, day: date, scope: str = Scope.PROACTIVE) -> Coalesce:
    """One field of a day's counter ("used", "reserved", "used_cost_micros" or
    "reserved_cost_micros") as an expression another read can
    annotate, 0 while the day has none: the budget inside a caller's single SELECT. The
    counter's `reserved` is the open reservations' sum (kept in the same transactions)."""
    counter = DailyCounter.objects.filter(day=day, scope=scope).order_by().values(field)[:1]
    return Coalesce(Subquery(counter), Value(0))


def budget_history(*, days: int = 14) -> list[dict]:
    """Per-day usage by scope for the last `days` UTC days, oldest first."""
    today = utc_today()
    first = today - timedelta(days=days - 1)
    rows = DailyCounter.objects.filter(day__gte=first).values("day", "scope", "used")
    by_day = {first + timedelta(days=i): {"proactive": 0, "reactive": 0} for i in range(days)}
    for row in rows:
        by_day[row["day"]][row["scope"]] = row["used"]
    return [{"date": d.isoformat(), **usage} for d, usage in by_day.items()]


def ledger_usage_summed(*, scope: str, day: date | None = None) -> int:
    """The naive approach (sum the ledger): kept for benchmarks and consistency checks."""
    from django.db.models import F

    total = LedgerEntry.objects.filter(scope=scope, day=day or utc_today()).aggregate(
        total=Sum(
            F("input_tokens") + F("output_tokens")
            + F("cache_creation_input_tokens") + F("cache_read_input_tokens")
        )
    )["total"]
    return total or 0


def ledger_browse():
    """The ledger, newest first: a lazy queryset the caller filters and pages."""
    return LedgerEntry.objects.order_by("-created_at", "-id")
