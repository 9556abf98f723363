"""/budget tells today's and this month's estimated cost, and the daily cost limit when set."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import time_machine

from budget.services import budget_reserve, budget_settle, ledger_record
from budget.usage import TokenUsage
from budget.models import Scope
from tests.telegrambot.test_commands import reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls")]

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
SONNET = "claude-sonnet-5-5"


def spend(*, output: int, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        r = budget_reserve(amount=output)
        budget_settle(reservation_id=r.pk, usage=TokenUsage(output=output), model=SONNET, reservation=r)


def test_budget_shows_the_cost_today_and_this_month(bot, budget_limit, settings):
    budget_limit(10_000_000)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = None
    spend(output=100_000, at=NOW)  # $1.50
    spend(output=200_000, at=NOW - timedelta(days=2))  # $3.00 earlier this month
    spend(output=700_000, at=NOW - timedelta(days=10))  # February: not this month
    with time_machine.travel(NOW, tick=False):
        ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=10_000), model=SONNET)  # $0.03
        text = reply(bot, "/budget")
    assert "Cost today (est.): $1.53 (proactive $1.50, chat $0.0300)" in text
    assert "Cost this month (2026-03): $4.53" in text
    assert "Daily cost limit" not in text


def test_budget_shows_the_daily_cost_limit_when_set(bot, budget_limit, settings):
    budget_limit(10_000_000)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = Decimal("5")
    spend(output=100_000, at=NOW)
    with time_machine.travel(NOW, tick=False):
        text = reply(bot, "/budget")
    assert "Daily cost limit: $1.50 of $5.00 used, $3.50 left" in text
