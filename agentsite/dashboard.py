"""The admin's agent dashboard: what it reads (bounded selectors), handed to its two
charts (agentsite/charts.py, drawn by pygal)."""

from datetime import date, datetime, timedelta, timezone

from django.conf import settings
from django.db.models import BigIntegerField, F, Sum
from django.db.models.functions import ExtractHour

from agentsite.core.clock import utc_day_start, utc_now
from budget.models import LedgerEntry, Scope
from budget.pricing import money_text
from budget.selectors import budget_cost, budget_history, budget_level, budget_stats
from decisions.models import ApprovalStatus, Notification, NotificationStatus
from decisions.outbox import held_for_master
from decisions.selectors import agent_state_read, approval_list, cycle_browse, cycles_today_count

from .charts import LEVEL_COLOURS, history_bars_svg, usage_line_svg

HISTORY_DAYS = 14
PENDING_SHOWN = 10


# --- selectors ---------------------------------------------------------------------


def dashboard_hourly_usage(*, day: date) -> list[int]:
    """Proactive tokens settled in each UTC hour of `day` (24 values).

    One GROUP BY over that day's proactive ledger rows (indexed on scope, day), so its
    cost is bounded by one day's calls, never by the whole history.
    """
    tokens = (
        F("input_tokens") + F("output_tokens") + F("cache_creation_input_tokens") + F("cache_read_input_tokens")
    )
    rows = (
        LedgerEntry.objects.filter(scope=Scope.PROACTIVE, day=day)
        .annotate(hour=ExtractHour("created_at", tzinfo=timezone.utc))
        .values("hour")
        .annotate(total=Sum(tokens, output_field=BigIntegerField()))
        .order_by("hour")
    )
    hourly = [0] * 24
    for row in rows:
        hourly[row["hour"]] = int(row["total"] or 0)
    return hourly


def dashboard_waiting_messages() -> dict:
    """Messages held for missing configuration (never counted as failed): those waiting for
    a Master chat and, while no bot token is set, those waiting for Telegram; with the
    sentence the dashboard shows for each ("" when nothing waits)."""
    no_master = Notification.objects.filter(held_for_master()).count()
    no_telegram = 0
    if not settings.TELEGRAM_BOT_TOKEN:
        no_telegram = Notification.objects.filter(status=NotificationStatus.PENDING, chat_id__isnull=False).count()
    return {
        "waiting_no_master": no_master,
        "waiting_no_telegram": no_telegram,
        "waiting_no_master_text": f"No Master chat configured: {_messages(no_master)} waiting" if no_master else "",
        "waiting_no_telegram_text": (
            f"Telegram is not configured: {_messages(no_telegram)} waiting"
            if not settings.TELEGRAM_BOT_TOKEN else ""
        ),
    }


def dashboard_history(*, limit: int) -> list[dict]:
    """`budget_history()` rows, each with the budget level its proactive use reached (the
    budget's own rule, `budget_level`; a past day has nothing reserved)."""
    return [
        {**day, "level": budget_level(used=day["proactive"], remaining=max(0, limit - day["proactive"]), limit=limit)}
        for day in budget_history(days=HISTORY_DAYS)
    ]


def dashboard_cost(*, day: date) -> dict:
    """Today's and this month's estimated cost (and the daily cost limit), as money text."""
    cost = budget_cost(day=day)
    limit = cost["limit"]
    return {
        "month": cost["month"],
        "today": {scope: money_text(micros) for scope, micros in cost["today"].items()},
        "this_month": {scope: money_text(micros) for scope, micros in cost["this_month"].items()},
        "limit": None if limit is None else money_text(limit),
    }


def _messages(count: int) -> str:
    return f"{count} message{'s' if count != 1 else ''}"


def dashboard_data(*, now: datetime | None = None) -> dict:
    """Everything the dashboard page shows. Reads only: a GET never writes, so the
    agent's singleton state is not created here if it does not exist yet."""
    now = now or utc_now()
    today = now.date()
    state = agent_state_read()
    stats = budget_stats(day=today)
    proactive = stats["proactive"]
    hourly = dashboard_hourly_usage(day=today)
    history = dashboard_history(limit=proactive["limit"])
    pending = approval_list(status=ApprovalStatus.PENDING)
    return {
        "now": now,
        "state": state,
        "last_cycle": cycle_browse().first(),
        "cycles_today": cycles_today_count(),
        "pending_approvals": list(pending[:PENDING_SHOWN]),
        "pending_count": pending.count(),
        "failed_notifications": Notification.objects.filter(status=NotificationStatus.FAILED)
        .exclude(held_for_master())
        .count(),
        **dashboard_waiting_messages(),
        "stats": stats,
        "cost": dashboard_cost(day=today),
        "proactive": proactive,
        "level": proactive["level"],
        "level_colour": LEVEL_COLOURS.get(proactive["level"], LEVEL_COLOURS["ok"]),
        "usage_percent": round(100 * proactive["usage_ratio"], 1),
        "hourly": hourly,
        "history": history,
        "usage_chart": usage_line_svg(
            hourly=hourly,
            limit=proactive["limit"],
            now_hours=(now - utc_day_start(today)) / timedelta(hours=1),
        ),
        "history_chart": history_bars_svg(days=history, limit=proactive["limit"]),
    }
