from datetime import timedelta

import pytest

from agentsite.core.clock import utc_now, utc_today
from budget.models import Reservation, ReservationStatus, Scope
from budget.selectors import budget_history, budget_level, budget_reserved, budget_stats, ledger_usage_summed
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
        # Model "m" is unknown: priced as the dearest family (opus, $15/M input, $75/M output).
        "cost_used_micros": 37_500, "cost_reserved_micros": 0, "cost_limit_micros": None,
        "cost_remaining_micros": None, "cost_usage_ratio": None,
    }
    assert stats["cost_micros_today"] == {"proactive": 37_500, "reactive": 40 * 15 + 2 * 75, "total": 38_250}


def test_history_lists_each_of_the_last_days_oldest_first(budget_limit):
    budget_limit(10_000)
    spend(300)
    history = budget_history(days=14)
    assert len(history) == 14
    assert history[-1]["proactive"] == 300
    assert all(day["proactive"] == 0 for day in history[:-1])
    assert history[0]["date"] < history[-1]["date"]


@pytest.mark.parametrize(
    ("used", "remaining", "limit", "level"),
    [
        (0, 10_000, 10_000, "ok"),
        (7_999, 2_001, 10_000, "ok"),
        (8_000, 2_000, 10_000, "warning"),
        (9_500, 500, 10_000, "critical"),
        (9_501, 499, 10_000, "exhausted"),  # below the cycle minimum, whatever the ratio
        (0, 499, 10_000, "exhausted"),  # held by reservations: nothing left for a cycle
        (0, 1_000, 0, "critical"),  # no limit configured counts as all used
    ],
)
def test_budget_level_is_the_one_rule(settings, used, remaining, limit, level):
    settings.PROACTIVE_MIN_CYCLE_TOKENS = 500
    assert budget_level(used=used, remaining=remaining, limit=limit) == level


def test_history_reads_past_days_from_their_counters(budget_limit, daily_counter_factory):
    today = utc_today()
    daily_counter_factory(day=today - timedelta(days=2), used=700)
    daily_counter_factory(day=today - timedelta(days=2), scope=Scope.REACTIVE, used=30)
    daily_counter_factory(day=today - timedelta(days=14), used=999)  # one day too old for 14 days
    history = budget_history(days=14)
    assert history[0]["date"] == (today - timedelta(days=13)).isoformat()
    assert history[-3] == {"date": (today - timedelta(days=2)).isoformat(), "proactive": 700, "reactive": 30}
    assert sum(day["proactive"] for day in history) == 700


def test_summing_the_ledger_counts_all_four_token_categories(ledger_entry_factory):
    ledger_entry_factory(input_tokens=100, output_tokens=20, cache_creation_input_tokens=3, cache_read_input_tokens=4)
    ledger_entry_factory(input_tokens=1)
    ledger_entry_factory(scope=Scope.REACTIVE, input_tokens=1_000)
    ledger_entry_factory(day=utc_today() - timedelta(days=1), input_tokens=1_000)
    assert ledger_usage_summed(scope=Scope.PROACTIVE) == 128


def test_reserved_counts_open_reservations_stale_ones_included(reservation_factory):
    reservation_factory(amount=300)
    stale = reservation_factory(amount=200)
    Reservation.objects.filter(pk=stale.pk).update(created_at=utc_now() - timedelta(hours=3),
                                                  expires_at=utc_now() - timedelta(hours=2))
    reservation_factory(amount=5_000, status=ReservationStatus.SETTLED)
    reservation_factory(amount=7_000, scope=Scope.REACTIVE)
    reservation_factory(amount=9_000, day=utc_today() - timedelta(days=1))
    assert budget_reserved() == 500  # a stale one is charged by the sweep, never freed meanwhile
