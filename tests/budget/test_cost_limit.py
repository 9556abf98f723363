"""PROACTIVE_DAILY_COST_LIMIT_USD: held by the same reservations as tokens. A reservation
also holds its call's cost bound; settle, release, estimates and sweeps move cost as they
move tokens; a call over the cost limit is refused before anything is sent."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from agentsite.core.clock import utc_now
from budget.client import claude_complete
from budget.errors import BudgetExceeded
from budget.models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from budget.pricing import cost_bound_micros
from budget.selectors import budget_stats
from budget.services import (
    budget_charge_estimated, budget_release, budget_reserve, budget_settle, reservation_expire_stale,
    reservation_horizon,
)
from budget.usage import TokenUsage, estimate_input_upper_bound
from tests.concurrency import run_at_once
from tests.fakes.anthropic_api import message_reply

pytestmark = pytest.mark.django_db

SONNET = "claude-sonnet-5-5"  # $3/M input, $15/M output: micros = tokens x price


@pytest.fixture
def cost_limit(settings, budget_limit):
    """A large token limit and a daily cost limit of `usd` (a string, as in the environment)."""

    def _set(usd: str) -> None:
        budget_limit(100_000_000, min_cycle=1)
        settings.PROACTIVE_DAILY_COST_LIMIT_USD = Decimal(usd)

    return _set


def counter() -> DailyCounter:
    return DailyCounter.objects.get(scope=Scope.PROACTIVE)


def test_a_reservation_over_the_cost_limit_is_refused_and_holds_nothing(cost_limit):
    cost_limit("0.01")  # 10,000 micros
    held = budget_reserve(amount=1_000, cost=6_000)
    with pytest.raises(BudgetExceeded, match=r"cost limit reached: up to \$0.0050 requested, \$0.0040 of \$0.0100 left"):
        budget_reserve(amount=1_000, cost=5_000)
    assert (counter().reserved, counter().reserved_cost_micros) == (1_000, 6_000)
    assert Reservation.objects.get() == held and held.cost_micros == 6_000
    budget_reserve(amount=1_000, cost=4_000)  # exactly what is left fits
    assert counter().reserved_cost_micros == 10_000


def test_without_a_cost_limit_cost_is_counted_but_never_refused(budget_limit, settings):
    budget_limit(100_000)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = None
    budget_reserve(amount=1_000, cost=10**12)
    assert counter().reserved_cost_micros == 10**12
    assert budget_stats()["proactive"]["cost_remaining_micros"] is None


def test_a_settle_charges_the_actual_cost_and_gives_the_bound_back(cost_limit):
    cost_limit("1")
    r = budget_reserve(amount=5_000, cost=40_000)
    entry = budget_settle(reservation_id=r.pk, usage=TokenUsage(input=1_000, output=100), model=SONNET, reservation=r)
    assert entry.cost_micros == 3_000 + 1_500
    assert (counter().used_cost_micros, counter().reserved_cost_micros) == (4_500, 0)
    stats = budget_stats()["proactive"]
    assert (stats["cost_used_micros"], stats["cost_limit_micros"], stats["cost_remaining_micros"]) == (
        4_500, 1_000_000, 995_500,
    )
    assert stats["cost_usage_ratio"] == 0.0045


def test_the_long_settle_path_moves_cost_too(cost_limit):
    cost_limit("1")
    r = budget_reserve(amount=5_000, cost=40_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(output=1_000), model=SONNET)  # no reservation given
    assert (counter().used_cost_micros, counter().reserved_cost_micros) == (15_000, 0)


def test_a_release_gives_the_cost_back_keeping_any_reported_usage(cost_limit):
    cost_limit("1")
    r = budget_reserve(amount=5_000, cost=40_000)
    budget_release(reservation_id=r.pk)
    assert (counter().used_cost_micros, counter().reserved_cost_micros) == (0, 0)
    r = budget_reserve(amount=5_000, cost=40_000)
    budget_release(reservation_id=r.pk, usage=TokenUsage(input=100), model=SONNET)
    assert (counter().used_cost_micros, counter().reserved_cost_micros) == (300, 0)


def test_an_unreadable_reply_is_charged_its_whole_cost_bound(cost_limit):
    cost_limit("1")
    r = budget_reserve(amount=5_000, cost=40_000)
    entry = budget_charge_estimated(reservation_id=r.pk, model=SONNET)
    assert (entry.estimated, entry.cost_micros) == (True, 40_000)
    assert (counter().used_cost_micros, counter().reserved_cost_micros) == (40_000, 0)


def test_a_stale_reservation_is_charged_its_cost_bound_and_a_late_settle_replaces_it(cost_limit):
    cost_limit("1")
    r = budget_reserve(amount=5_000, cost=40_000)
    with time_machine.travel(utc_now() + reservation_horizon() + timedelta(seconds=1), tick=False):
        assert reservation_expire_stale() == 5_000
        assert (counter().used_cost_micros, counter().reserved_cost_micros) == (40_000, 0)
        budget_settle(reservation_id=r.pk, usage=TokenUsage(input=100, output=10), model=SONNET)
    assert counter().used_cost_micros == 300 + 150 == LedgerEntry.objects.get().cost_micros


def test_an_estimate_without_a_cost_bound_prices_its_tokens_at_the_dearest_input(cost_limit):
    cost_limit("1")
    r = budget_reserve(amount=1_000)  # reserved before costs existed: no bound
    entry = budget_charge_estimated(reservation_id=r.pk, model=SONNET)
    assert entry.cost_micros == 3_750  # 1000 x cache-write's $3.75/M, dearer than input's $3


def test_a_call_over_the_cost_limit_is_never_sent(claude, cost_limit):
    system, messages = "You are a test.", [{"role": "user", "content": "spend"}]
    bound = cost_bound_micros(
        input_bound=estimate_input_upper_bound(system=system, messages=messages), max_tokens=1_000, model=SONNET
    )
    cost_limit(str(Decimal(bound - 1) / 1_000_000))  # one micro-dollar short of one call
    with pytest.raises(BudgetExceeded, match="cost limit"):
        claude_complete(system=system, messages=messages, scope=Scope.PROACTIVE, max_tokens=1_000)
    assert claude.message_requests == [] and LedgerEntry.objects.count() == 0
    cost_limit(str(Decimal(bound) / 1_000_000))
    reply = claude_complete(system=system, messages=messages, scope=Scope.PROACTIVE, max_tokens=1_000)
    assert LedgerEntry.objects.get(pk=reply.ledger_entry_id).cost_micros == 100 * 3 + 20 * 15  # the fake's usage
    assert (counter().used_cost_micros, counter().reserved_cost_micros) == (600, 0)


def test_the_level_is_exhausted_when_the_cost_limit_cannot_cover_a_cycles_minimum(cost_limit, settings):
    cost_limit("0.10")
    settings.PROACTIVE_MIN_CYCLE_TOKENS = 1_000  # at sonnet's dearest rate: $0.015
    r = budget_reserve(amount=10_000, cost=80_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(output=5_500), model=SONNET, reservation=r)  # $0.0825
    assert budget_stats()["proactive"]["level"] == "warning"  # 82.5% of the money, 0.0055% of the tokens
    r = budget_reserve(amount=1_000, cost=15_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(output=800), model=SONNET, reservation=r)  # $0.0945
    assert budget_stats()["proactive"]["level"] == "exhausted"


def test_a_settle_returns_the_days_totals_with_or_without_update_returning(cost_limit, monkeypatch):
    from budget import statements

    for returning in (True, False):  # False: SQLite before 3.35 (the totals read after the UPDATE)
        monkeypatch.setattr(statements, "_returning", lambda conn, returning=returning: returning)
        statements._sql.cache_clear()
        try:
            r = budget_reserve(amount=5_000, cost=40_000)
            entry = budget_settle(
                reservation_id=r.pk, usage=TokenUsage(input=1_000, output=100), model=SONNET, reservation=r
            )
        finally:
            statements._sql.cache_clear()
        assert entry.day_totals_after == (counter().used, counter().used_cost_micros)
        assert Reservation.objects.get(pk=r.pk).status == ReservationStatus.SETTLED
    assert counter().used_cost_micros == 2 * 4_500


# --- racing workers ---------------------------------------------------------------------------

WORKERS = 12
SYSTEM = "You are a test."
MESSAGES = [{"role": "user", "content": "spend"}]
MAX_TOKENS = 200


def spend_or_refused() -> str:
    try:
        claude_complete(system=SYSTEM, messages=MESSAGES, scope=Scope.PROACTIVE, max_tokens=MAX_TOKENS)
    except BudgetExceeded:
        return "refused"
    return "sent"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_never_overspend_the_cost_limit(claude, cost_limit):
    input_bound = estimate_input_upper_bound(system=SYSTEM, messages=MESSAGES)
    bound = cost_bound_micros(input_bound=input_bound, max_tokens=MAX_TOKENS, model=SONNET)
    limit = bound * 3 + bound // 2  # room for exactly three worst-case calls
    cost_limit(str(Decimal(limit) / 1_000_000))
    # Each reply costs its whole bound (all input written to the cache, all output) and is slow.
    claude.default = lambda recorded: message_reply(
        input_tokens=0, cache_creation=input_bound, output_tokens=MAX_TOKENS, delay=0.3
    )
    try:
        outcomes = run_at_once(spend_or_refused, count=WORKERS, timeout=60)
    finally:
        claude.default = lambda recorded: message_reply()
    assert outcomes.count("sent") == 3 and outcomes.count("refused") == WORKERS - 3
    assert len(claude.message_requests) == 3
    spent = sum(LedgerEntry.objects.values_list("cost_micros", flat=True))
    assert spent == 3 * bound <= limit
    assert (counter().used_cost_micros, counter().reserved_cost_micros) == (spent, 0)
    assert not Reservation.objects.filter(status=ReservationStatus.ACTIVE).exists()
