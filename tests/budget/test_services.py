from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from budget.clock import utc_now, utc_today
from budget.errors import BudgetExceeded
from budget.models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from budget.selectors import budget_remaining, budget_reserved, budget_usage, ledger_usage_summed
from budget.services import (
    budget_release,
    budget_reserve,
    budget_settle,
    ledger_record,
    reservation_expire_stale,
)
from budget.usage import TokenUsage

pytestmark = pytest.mark.django_db


def test_reserve_holds_tokens_against_the_day(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=3_000)
    assert reservation.status == ReservationStatus.ACTIVE
    assert budget_reserved() == 3_000
    assert budget_remaining() == 7_000


def test_reserve_refuses_what_would_pass_the_limit_and_holds_nothing(budget_limit):
    budget_limit(10_000)
    budget_reserve(amount=6_000)
    with pytest.raises(BudgetExceeded) as refused:
        budget_reserve(amount=4_001)
    assert "4001 tokens requested, 4000 of 10000 left" in str(refused.value)
    assert Reservation.objects.count() == 1
    assert DailyCounter.objects.get(scope=Scope.PROACTIVE).reserved == 6_000


def test_reserve_may_use_the_budget_to_the_last_token(budget_limit):
    budget_limit(10_000)
    budget_reserve(amount=10_000)
    assert budget_remaining() == 0


def test_settle_replaces_the_reservation_by_actual_usage(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=5_000)
    usage = TokenUsage(input=1_000, output=200, cache_creation=300, cache_read=50)
    entry = budget_settle(reservation_id=reservation.pk, usage=usage, model="m", request_id="req_1")
    assert entry.total_tokens == 1_550
    assert (entry.input_tokens, entry.output_tokens) == (1_000, 200)
    assert (entry.cache_creation_input_tokens, entry.cache_read_input_tokens) == (300, 50)
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (1_550, 0)
    assert budget_remaining() == 8_450
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.SETTLED


def test_settling_twice_counts_the_reservation_once(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=5_000)
    budget_settle(reservation_id=reservation.pk, usage=TokenUsage(input=10), model="m")
    budget_release(reservation_id=reservation.pk)
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (10, 0)


def test_release_gives_everything_back_when_no_usage_was_reported(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=5_000)
    assert budget_release(reservation_id=reservation.pk) is None
    assert budget_remaining() == 10_000
    assert LedgerEntry.objects.count() == 0
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RELEASED


def test_release_keeps_usage_the_api_did_report(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=5_000)
    budget_release(reservation_id=reservation.pk, usage=TokenUsage(input=700, output=3), model="m")
    assert budget_usage(scope=Scope.PROACTIVE) == 703
    assert budget_remaining() == 9_297


def test_reactive_usage_is_recorded_but_never_limited(budget_limit):
    budget_limit(1_000)
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=50_000, output=1), model="m")
    assert budget_usage(scope=Scope.REACTIVE) == 50_001
    assert budget_remaining() == 1_000


def test_counter_always_equals_the_ledger_sum(budget_limit):
    budget_limit(100_000)
    for n in range(5):
        r = budget_reserve(amount=2_000)
        budget_settle(reservation_id=r.pk, usage=TokenUsage(input=100 + n, output=n, cache_read=7), model="m")
    ledger_record(scope=Scope.PROACTIVE, usage=TokenUsage(input=9), model="m")
    assert budget_usage(scope=Scope.PROACTIVE) == ledger_usage_summed(scope=Scope.PROACTIVE)


def test_a_stale_reservation_from_a_crashed_process_expires(budget_limit):
    budget_limit(10_000)
    budget_reserve(amount=9_000)  # the process "crashes" and never settles
    with pytest.raises(BudgetExceeded):
        budget_reserve(amount=2_000)
    with time_machine.travel(utc_now() + timedelta(hours=2), tick=False):
        assert budget_reserved() == 0  # not counted once stale
        fresh = budget_reserve(amount=2_000)  # reserving sweeps it
    assert fresh.status == ReservationStatus.ACTIVE
    assert Reservation.objects.filter(status=ReservationStatus.EXPIRED).count() == 1
    assert DailyCounter.objects.get(scope=Scope.PROACTIVE).reserved == 2_000


def test_the_sweep_frees_stale_reservations_and_a_late_settle_still_counts(budget_limit):
    budget_limit(10_000)
    slow = budget_reserve(amount=4_000)
    with time_machine.travel(utc_now() + timedelta(hours=2), tick=False):
        assert reservation_expire_stale() == 4_000
        budget_settle(reservation_id=slow.pk, usage=TokenUsage(input=500), model="m")
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (500, 0)


def test_the_budget_resets_at_utc_midnight_without_a_job(budget_limit):
    budget_limit(10_000)
    with time_machine.travel(datetime(2026, 3, 1, 23, 59, 30, tzinfo=timezone.utc), tick=False):
        r = budget_reserve(amount=9_000)
        budget_settle(reservation_id=r.pk, usage=TokenUsage(input=9_000), model="m")
        assert budget_remaining() == 1_000
        with pytest.raises(BudgetExceeded):
            budget_reserve(amount=2_000)
    with time_machine.travel(datetime(2026, 3, 2, 0, 0, 1, tzinfo=timezone.utc), tick=False):
        assert utc_today().isoformat() == "2026-03-02"
        assert budget_remaining() == 10_000
        budget_reserve(amount=9_500)
    assert DailyCounter.objects.filter(scope=Scope.PROACTIVE).count() == 2


def test_a_call_reserved_before_midnight_settles_on_its_own_day(budget_limit):
    budget_limit(10_000)
    with time_machine.travel(datetime(2026, 3, 1, 23, 59, 59, tzinfo=timezone.utc), tick=False):
        r = budget_reserve(amount=1_000)
    with time_machine.travel(datetime(2026, 3, 2, 0, 0, 5, tzinfo=timezone.utc), tick=False):
        entry = budget_settle(reservation_id=r.pk, usage=TokenUsage(input=800), model="m")
        assert budget_usage(scope=Scope.PROACTIVE) == 0
    assert entry.day.isoformat() == "2026-03-01"


def test_the_sweep_frees_a_stale_reservation_left_on_a_past_day(budget_limit):
    from budget.services import reservations_expire_all_stale

    budget_limit(10_000)
    with time_machine.travel(datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc), tick=False):
        budget_reserve(amount=5_000)  # the caller crashes
    with time_machine.travel(datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc), tick=False):
        assert reservations_expire_all_stale() == 5_000
        assert reservations_expire_all_stale() == 0
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE, day=datetime(2026, 3, 1).date())
    assert counter.reserved == 0
