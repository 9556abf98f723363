"""The money on the web surfaces: /stats, GET /api/budget/, the ledger, the dashboard and the
ledger's admin page, all from the same counters."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import time_machine

from budget.models import Scope
from budget.services import budget_reserve, budget_settle, ledger_record
from budget.usage import TokenUsage

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
SONNET = "claude-sonnet-5-5"


@pytest.fixture
def spent(budget_limit, settings):
    """$1.50 proactive and $0.03 chat today, $3.00 proactive earlier this month, $10.50 last month."""
    budget_limit(10_000_000)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = Decimal("5")
    for output, back in ((100_000, 0), (200_000, 2), (700_000, 10)):
        with time_machine.travel(NOW - timedelta(days=back), tick=False):
            r = budget_reserve(amount=output)
            budget_settle(reservation_id=r.pk, usage=TokenUsage(output=output), model=SONNET, reservation=r)
    with time_machine.travel(NOW, tick=False):
        ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=10_000), model=SONNET)


def test_the_api_budget_has_the_cost_today_and_this_month(api, spent):
    with time_machine.travel(NOW, tick=False):
        body = api.get("/api/budget/").json()
    assert body["cost"] == {
        "month": "2026-03",
        "today": {"proactive": "1.500000", "reactive": "0.030000", "total": "1.530000"},
        "this_month": {"proactive": "4.500000", "reactive": "0.030000", "total": "4.530000"},
        "limit": "5.000000",
    }
    p = body["proactive"]
    assert (p["cost_used_usd"], p["cost_limit_usd"], p["cost_remaining_usd"], p["cost_usage_ratio"]) == (
        "1.500000", "5.000000", "3.500000", 0.3,
    )


def test_stats_and_the_api_agree_on_money(api, client, spent):
    with time_machine.travel(NOW, tick=False):
        stats, body = client.get("/stats").json(), api.get("/api/budget/").json()
    assert stats["proactive"] == body["proactive"]
    assert stats["cost_usd"] == {
        "today": body["cost"]["today"], "month": "2026-03", "this_month": body["cost"]["this_month"],
        "daily_limit": "5.000000",
    }


def test_each_ledger_row_shows_its_cost(api, spent):
    rows = api.get("/api/ledger/?scope=reactive").json()["results"]
    assert [row["cost_usd"] for row in rows] == ["0.030000"]


def test_the_dashboard_and_the_ledger_admin_show_the_cost(admin_client, spent):
    with time_machine.travel(NOW, tick=False):
        dashboard = admin_client.get("/admin/agent/").content.decode()
        ledger = admin_client.get("/admin/budget/ledgerentry/").content.decode()
    assert "Cost today (est.)" in dashboard and "$1.53 (proactive $1.50, chat $0.0300); daily limit $5.00" in dashboard
    assert "Cost this month (2026-03)" in dashboard and "$4.53" in dashboard
    assert '<td class="cost-today">$1.50</td><td class="cost-month">$4.50</td>' in ledger
    assert "$0.0300" in ledger  # the chat row's own cost column
