import pytest

from budget.models import Scope
from budget.selectors import budget_history, budget_stats
from budget.services import budget_reserve, budget_settle, ledger_record
from budget.usage import TokenUsage

pytestmark = pytest.mark.django_db


def spend(tokens: int) -> None:
    r = budget_reserve(amount=tokens)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(input=tokens), model="m")


@pytest.mark.parametrize(
    ("spent", "level"),
    [(0, "ok"), (7_999, "ok"), (8_000, "warning"), (9_499, "warning"), (9_500, "critical"), (9_800, "critical")],
)
def test_levels_at_80_and_95_percent(budget_limit, spent, level):
    budget_limit(10_000, min_cycle=100)
    if spent:
        spend(spent)
    assert budget_stats()["proactive"]["level"] == level


def test_exhausted_when_remaining_is_below_the_cycle_minimum(budget_limit):
    budget_limit(10_000, min_cycle=500)
    spend(9_501)
    stats = budget_stats()["proactive"]
    assert stats["remaining"] == 499
    assert stats["level"] == "exhausted"


def test_reservations_count_toward_exhaustion(budget_limit):
    budget_limit(10_000, min_cycle=500)
    budget_reserve(amount=9_600)
    stats = budget_stats()["proactive"]
    assert (stats["used"], stats["reserved"], stats["remaining"]) == (0, 9_600, 400)
    assert stats["level"] == "exhausted"


def test_stats_shape_and_values(budget_limit):
    budget_limit(10_000)
    spend(2_500)
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=40, output=2), model="m")
    stats = budget_stats()
    assert stats["token_usage_today"] == {"proactive": 2_500, "reactive": 42}
    assert stats["proactive"] == {
        "limit": 10_000, "used": 2_500, "reserved": 0, "remaining": 7_500, "usage_ratio": 0.25, "level": "ok",
    }


def test_history_lists_each_of_the_last_days_oldest_first(budget_limit):
    budget_limit(10_000)
    spend(300)
    history = budget_history(days=14)
    assert len(history) == 14
    assert history[-1]["proactive"] == 300
    assert all(day["proactive"] == 0 for day in history[:-1])
    assert history[0]["date"] < history[-1]["date"]
