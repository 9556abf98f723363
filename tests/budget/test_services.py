from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from agentsite.core.clock import utc_now, utc_today
from agentsite.core.deadlines import longest_call
from budget.errors import BudgetExceeded
from budget.models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from budget.selectors import budget_remaining, budget_reserved, budget_usage, ledger_usage_summed
from budget.services import (
    budget_charge_estimated,
    budget_release,
    budget_reserve,
    budget_settle,
    ledger_record,
    reservation_expire_stale,
    reservation_horizon,
    reservations_charge_for_cycles,
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


def past_the_horizon():
    """A moment after any live call's reservation would have been settled."""
    return time_machine.travel(utc_now() + reservation_horizon() + timedelta(seconds=1), tick=False)


def test_a_reservation_is_held_for_the_call_deadline_plus_a_margin(settings, budget_limit):
    budget_limit(10_000)
    settings.AGENT_LLM_DEADLINE_SECONDS = 300
    assert longest_call() == timedelta(seconds=300)
    reservation = budget_reserve(amount=1_000)
    hold = reservation.expires_at - reservation.created_at
    assert abs(hold - timedelta(seconds=360)) < timedelta(seconds=1)  # no 1-hour minimum
    with time_machine.travel(utc_now() + timedelta(seconds=300), tick=False):
        assert reservation_expire_stale() == 0  # a call still inside its deadline keeps its hold


def test_a_stale_reservation_from_a_crashed_process_is_charged_never_freed(budget_limit):
    budget_limit(10_000)
    budget_reserve(amount=9_000, meta={"cycle_id": 3})  # the process "crashes" and never settles
    with pytest.raises(BudgetExceeded):
        budget_reserve(amount=2_000)
    with past_the_horizon():
        assert budget_reserved() == 9_000  # still counted until charged
        with pytest.raises(BudgetExceeded):
            budget_reserve(amount=2_000)  # reserving sweeps it: charged, not freed
        fresh = budget_reserve(amount=1_000)
    assert fresh.status == ReservationStatus.ACTIVE
    stale = Reservation.objects.get(status=ReservationStatus.ESTIMATED)
    entry = LedgerEntry.objects.get()
    assert stale.ledger_entry == entry
    assert (entry.estimated, entry.total_tokens, entry.input_tokens) == (True, 9_000, 9_000)
    assert entry.meta == {"cycle_id": 3, "estimate": "stale"}
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (9_000, 1_000)


def test_a_late_settle_replaces_the_sweeps_estimate(budget_limit):
    budget_limit(10_000)
    slow = budget_reserve(amount=4_000)
    with past_the_horizon():
        assert reservation_expire_stale() == 4_000
        assert DailyCounter.objects.get(scope=Scope.PROACTIVE).used == 4_000
        budget_settle(reservation_id=slow.pk, usage=TokenUsage(input=500), model="m", request_id="req_late")
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (500, 0)
    entry = LedgerEntry.objects.get()
    assert (entry.estimated, entry.total_tokens, entry.request_id) == (False, 500, "req_late")
    assert budget_usage(scope=Scope.PROACTIVE) == ledger_usage_summed(scope=Scope.PROACTIVE)


def test_a_late_release_without_usage_keeps_the_estimate(budget_limit):
    budget_limit(10_000)
    slow = budget_reserve(amount=4_000)
    with past_the_horizon():
        reservation_expire_stale()
        budget_release(reservation_id=slow.pk)
    assert DailyCounter.objects.get(scope=Scope.PROACTIVE).used == 4_000
    assert LedgerEntry.objects.get().estimated


def test_an_unreadable_answer_is_charged_its_whole_reservation_once(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=3_000, meta={"cycle_id": 1})
    entry = budget_charge_estimated(reservation_id=reservation.pk, model="m", request_id="req_1")
    again = budget_charge_estimated(reservation_id=reservation.pk, model="m")
    assert again == entry
    assert (entry.estimated, entry.total_tokens, entry.request_id) == (True, 3_000, "req_1")
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (3_000, 0)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.ESTIMATED


def test_usage_above_the_reservation_is_recorded_and_flagged(budget_limit, caplog):
    budget_limit(10_000)
    reservation = budget_reserve(amount=1_000)
    entry = budget_settle(reservation_id=reservation.pk, usage=TokenUsage(input=900, output=200), model="m")
    assert entry.over_reservation and entry.total_tokens == 1_100
    assert DailyCounter.objects.get(scope=Scope.PROACTIVE).used == 1_100
    assert "above the 1000 reserved" in caplog.text
    exact = budget_reserve(amount=1_000)
    assert not budget_settle(reservation_id=exact.pk, usage=TokenUsage(input=1_000), model="m").over_reservation


def test_a_dead_cycles_open_reservations_are_charged_at_once(budget_limit):
    budget_limit(100_000)
    open_1 = budget_reserve(amount=1_000, meta={"cycle_id": 1, "purpose": "decision"})
    settled_1 = budget_reserve(amount=2_000, meta={"cycle_id": 1, "purpose": "work"})
    budget_settle(reservation_id=settled_1.pk, usage=TokenUsage(input=700), model="m")
    open_2 = budget_reserve(amount=4_000, meta={"cycle_id": 2})
    alive = budget_reserve(amount=8_000, meta={"cycle_id": 3})
    assert reservations_charge_for_cycles(cycle_ids=[1, 2]) == 5_000
    assert reservations_charge_for_cycles(cycle_ids=[1, 2]) == 0
    assert reservations_charge_for_cycles(cycle_ids=[]) == 0
    statuses = {r.pk: r.status for r in Reservation.objects.all()}
    assert statuses[open_1.pk] == statuses[open_2.pk] == ReservationStatus.ESTIMATED
    assert (statuses[settled_1.pk], statuses[alive.pk]) == (ReservationStatus.SETTLED, ReservationStatus.ACTIVE)
    assert LedgerEntry.objects.get(meta__cycle_id=2).estimated
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (700 + 5_000, 8_000)


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


def test_the_sweep_charges_a_stale_reservation_left_on_a_past_day(budget_limit):
    from budget.services import reservations_expire_all_stale

    budget_limit(10_000)
    with time_machine.travel(datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc), tick=False):
        budget_reserve(amount=5_000)  # the caller crashes
    with time_machine.travel(datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc), tick=False):
        assert reservations_expire_all_stale() == 5_000
        assert reservations_expire_all_stale() == 0
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE, day=datetime(2026, 3, 1).date())
    assert (counter.used, counter.reserved) == (5_000, 0)
    assert LedgerEntry.objects.get().day == counter.day


def test_settling_with_the_reservation_in_hand_closes_it_and_links_its_ledger_row(budget_limit):
    budget_limit(10_000)
    kept = budget_reserve(amount=1_000)
    reservation = budget_reserve(amount=5_000)
    entry = budget_settle(
        reservation_id=reservation.pk, reservation=reservation, usage=TokenUsage(input=700, output=50), model="m"
    )
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (750, 1_000)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.SETTLED
    assert reservation.ledger_entry_id == entry.pk and reservation.closed_at is not None
    kept.refresh_from_db()
    assert kept.status == ReservationStatus.ACTIVE


def test_the_fast_settle_never_takes_the_reserved_count_below_zero(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=5_000)
    DailyCounter.objects.filter(scope=Scope.PROACTIVE).update(reserved=100)
    budget_settle(reservation_id=reservation.pk, reservation=reservation, usage=TokenUsage(input=10), model="m")
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (10, 0)


def test_the_fast_settle_of_a_reservation_charged_meanwhile_counts_it_once(budget_limit):
    budget_limit(10_000)
    reservation = budget_reserve(amount=5_000)
    budget_charge_estimated(reservation_id=reservation.pk)
    budget_settle(reservation_id=reservation.pk, reservation=reservation, usage=TokenUsage(input=10), model="m")
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (10, 0)
    assert LedgerEntry.objects.count() == 1


def test_reserve_waits_for_a_stale_reservation_to_be_charged_before_holding(budget_limit):
    budget_limit(10_000)
    budget_reserve(amount=4_000)
    with time_machine.travel(utc_now() + reservation_horizon() + timedelta(seconds=1)):
        budget_reserve(amount=6_000)  # the stale 4,000 are charged first: 4,000 + 6,000 fits
        with pytest.raises(BudgetExceeded):
            budget_reserve(amount=1)
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (4_000, 6_000)
