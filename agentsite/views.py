"""Unauthenticated JSON endpoints for probes and dashboards (no secrets, no PII)."""

from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from budget.client import claude_configured
from budget.pricing import usd
from budget.selectors import budget_cost, budget_stats
from decisions.selectors import agent_status, cycles_today_count


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def _iso(value: datetime | None) -> str | None:
    # isoformat, not JsonResponse's encoder (which cuts microseconds and writes "Z").
    return value.isoformat() if value else None


@require_GET
def health(request):
    llm = "configured" if claude_configured() else "not_configured"
    telegram = "configured" if settings.TELEGRAM_BOT_TOKEN else "not_configured"
    if not _database_ok():
        body = {"status": "degraded", "database": "error", "llm": llm, "telegram": telegram}
        return JsonResponse(body, status=503)
    status = agent_status()
    body = {
        "status": "healthy" if llm == "configured" else "degraded",
        "database": "connected",
        "llm": llm,
        "telegram": telegram,
        "scheduler": {
            "paused": status["paused"],
            "next_cycle_at": _iso(status["next_cycle_at"]),
            "last_cycle_at": _iso(status["last_cycle_at"]),
        },
    }
    return JsonResponse(body)


@require_GET
def stats(request):
    body = budget_stats()
    del body["cost_micros_today"]  # in cost_usd, as money
    body["proactive"] = _micros_as_usd(body["proactive"])
    body["cycles_today"] = cycles_today_count()
    body["next_cycle_at"] = _iso(agent_status()["next_cycle_at"])
    body["cost_usd"] = _cost_usd(budget_cost())
    return JsonResponse(body)


def _micros_as_usd(values: dict) -> dict:
    """`cost_used_micros: 52500` -> `cost_used_usd: "0.052500"` (as the API shows money)."""
    return {
        (key.removesuffix("_micros") + "_usd" if key.endswith("_micros") else key):
        (None if value is None else str(usd(value))) if key.endswith("_micros") else value
        for key, value in values.items()
    }


def _cost_usd(cost: dict) -> dict:
    """Today's and this month's cost as USD strings ("0.012345"), estimated from the price table."""
    def by_scope(micros: dict) -> dict:
        return {scope: str(usd(value)) for scope, value in micros.items()}

    limit = cost["limit"]
    return {"today": by_scope(cost["today"]), "month": cost["month"], "this_month": by_scope(cost["this_month"]),
            "daily_limit": None if limit is None else str(usd(limit))}
