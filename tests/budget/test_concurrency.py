"""N workers racing to spend a small daily limit can never overspend it (PostgreSQL row
locks), and neither can a call held on a long retry-after, nor a second cycle meanwhile."""

from datetime import timedelta

import pytest

from budget.client import claude_complete
from agentsite.core.clock import utc_now
from budget.errors import BudgetExceeded, ClaudeCallError
from budget.models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from budget.selectors import ledger_usage_summed
from agentsite.core.deadlines import longest_call
from budget.services import reservation_horizon
from budget.usage import estimate_input_upper_bound
from tests.concurrency import run_at_once
from tests.fakes.anthropic_api import RATE_LIMITED, error_reply, message_reply

WORKERS = 12
SYSTEM = "You are a test."
MESSAGES = [{"role": "user", "content": "spend"}]
MAX_TOKENS = 200


def spend_or_refused(max_tokens: int) -> str:
    """One proactive call: "sent", or "refused" when the day's budget can't cover it."""
    try:
        claude_complete(system=SYSTEM, messages=MESSAGES, scope=Scope.PROACTIVE, max_tokens=max_tokens)
    except BudgetExceeded:
        return "refused"
    return "sent"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_never_overspend_the_day(claude, budget_limit):
    bound = estimate_input_upper_bound(system=SYSTEM, messages=MESSAGES) + MAX_TOKENS
    budget_limit(bound * 3 + bound // 2, min_cycle=1)  # room for exactly three worst-case calls
    # Each reply costs its whole reservation and is slow, so the reservations overlap.
    claude.default = lambda recorded: message_reply(
        input_tokens=bound - MAX_TOKENS, output_tokens=MAX_TOKENS, delay=0.3
    )
    try:
        outcomes = run_at_once(lambda: spend_or_refused(MAX_TOKENS), count=WORKERS, timeout=60)
    finally:
        claude.default = lambda recorded: message_reply()

    limit = bound * 3 + bound // 2
    spent = ledger_usage_summed(scope=Scope.PROACTIVE)
    assert outcomes.count("sent") == 3
    assert outcomes.count("refused") == WORKERS - 3
    assert len(claude.message_requests) == 3  # refused callers sent nothing
    assert spent == 3 * bound <= limit
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (spent, 0)
    assert LedgerEntry.objects.count() == 3


# --- a call held on a long retry-after ----------------------------------------------------
HELD_SIZE = 6_000  # every call here reserves, and is charged, exactly this much


@pytest.mark.parametrize(
    "retry_after",
    [
        pytest.param(270, marks=pytest.mark.fault("Claude retry-after 270 s")),
        pytest.param(4_000_000, marks=pytest.mark.fault("Claude retry-after 4,000,000 s")),
    ],
)
@pytest.mark.django_db
def test_a_call_held_on_retry_after_never_lets_the_day_pass_its_limit(
    claude, budget_limit, simulated_time, retry_after
):
    """The original bug: a call waited out a retry-after longer than its reservation's hold,
    the hold lapsed, three other calls spent the room, and the day ended at 24,000 of 20,000."""
    budget_limit(20_000, min_cycle=1)
    max_tokens = HELD_SIZE - estimate_input_upper_bound(system=SYSTEM, messages=MESSAGES)
    claude.default = lambda recorded: message_reply(input_tokens=HELD_SIZE - max_tokens, output_tokens=max_tokens)
    claude.enqueue(error_reply(*RATE_LIMITED, retry_after=retry_after))
    outcomes: list[str] = []

    def call() -> None:
        claude_complete(system=SYSTEM, messages=MESSAGES, scope=Scope.PROACTIVE, max_tokens=max_tokens)

    held_during_wait: list[str] = []

    def three_others(waited: float | None = None) -> None:
        if waited is not None:  # the held call's reservation is the only one yet
            held = Reservation.objects.get()
            held_during_wait.append((held.status, held.expires_at > utc_now()))
        outcomes.extend(spend_or_refused(max_tokens) for _ in range(3))

    simulated_time.during_sleep = three_others  # they run while the held call waits
    try:
        try:
            call()
            held = "settled"
        except ClaudeCallError as exc:
            held = exc.kind
        if not simulated_time.slept:
            three_others()  # the held call gave up at once: the others run after it
    finally:
        claude.default = lambda recorded: message_reply()

    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert counter.used == ledger_usage_summed(scope=Scope.PROACTIVE) <= 20_000
    assert (counter.used, counter.reserved) == (18_000, 0)
    if retry_after == 270:
        assert held_during_wait == [(ReservationStatus.ACTIVE, True)]  # its hold outlives the wait
        assert (held, outcomes) == ("settled", ["sent", "sent", "refused"])
    else:
        assert (held, outcomes) == ("rate_limited", ["sent", "sent", "sent"])
        assert simulated_time.slept == []


@pytest.mark.fault("Concurrent cycles during a long retry-after")
@pytest.mark.django_db
def test_a_cycle_waiting_on_a_long_retry_after_keeps_the_lock(claude, settings, simulated_time):
    from decisions.agent import cycle_lock_ttl
    from decisions.models import CycleStatus
    from decisions.services import cycle_run
    from tests.factories import decision_text

    # The old TTL, 2 x (timeout x attempts + 60 s) + 120 s, was 270 s with these settings.
    settings.AGENT_LLM_TIMEOUT_SECONDS, settings.AGENT_LLM_MAX_RETRIES = 5, 2
    assert cycle_lock_ttl() >= 2 * timedelta(seconds=settings.AGENT_LLM_DEADLINE_SECONDS)
    claude.enqueue(error_reply(*RATE_LIMITED, retry_after=280), message_reply(decision_text(action="meditate")))
    second = []
    simulated_time.during_sleep = lambda waited: second.append(cycle_run(trigger="schedule").cycle)
    first = cycle_run(trigger="schedule").cycle
    assert simulated_time.slept == [280]
    [skipped] = second
    assert (skipped.status, skipped.reason) == (CycleStatus.SKIPPED, "locked")
    assert first.status == CycleStatus.COMPLETED
    assert len(claude.message_requests) == 2  # the first cycle's 429 and its retry; none from the second


def test_the_lock_and_the_worker_timeout_outlast_two_calls(settings):
    from decisions.agent import cycle_lock_ttl

    deadline = timedelta(seconds=settings.AGENT_LLM_DEADLINE_SECONDS)
    assert longest_call() == deadline
    assert reservation_horizon() > deadline
    timeout = timedelta(seconds=settings.Q_CLUSTER["timeout"])
    assert 2 * deadline < timeout <= cycle_lock_ttl()  # Django-Q2 kills a task before its lock lapses
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
    assert settings.Q_CLUSTER["max_attempts"] > 0 and settings.Q_CLUSTER["catch_up"] is False
    settings.AGENT_LLM_DEADLINE_SECONDS = 1_000
    assert cycle_lock_ttl() >= timedelta(seconds=2_000)


@pytest.mark.postgres
@pytest.mark.fault("Claude retry-after 270 s")
@pytest.mark.django_db(transaction=True)
def test_workers_racing_while_a_call_waits_on_retry_after_never_overspend(claude, budget_limit, simulated_time):
    """As above, with the three others racing in their own threads and connections."""
    budget_limit(20_000, min_cycle=1)
    max_tokens = HELD_SIZE - estimate_input_upper_bound(system=SYSTEM, messages=MESSAGES)
    claude.default = lambda recorded: message_reply(
        input_tokens=HELD_SIZE - max_tokens, output_tokens=max_tokens, delay=0.2
    )
    claude.enqueue(error_reply(*RATE_LIMITED, retry_after=270))
    outcomes: list[str] = []

    def race(_waited: float) -> None:
        outcomes.extend(run_at_once(lambda: spend_or_refused(max_tokens), count=3, timeout=60))

    simulated_time.during_sleep = race
    try:
        claude_complete(system=SYSTEM, messages=MESSAGES, scope=Scope.PROACTIVE, max_tokens=max_tokens)
    finally:
        claude.default = lambda recorded: message_reply()
    assert sorted(outcomes) == ["refused", "sent", "sent"]
    counter = DailyCounter.objects.get(scope=Scope.PROACTIVE)
    assert (counter.used, counter.reserved) == (18_000, 0)
    assert ledger_usage_summed(scope=Scope.PROACTIVE) == 18_000 <= 20_000
