"""N workers racing to spend a small daily limit can never overspend it (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection

from budget.client import claude_complete
from budget.errors import BudgetExceeded
from budget.models import DailyCounter, LedgerEntry, Scope
from budget.selectors import ledger_usage_summed
from budget.usage import estimate_input_upper_bound
from tests.fakes.anthropic_api import message_reply

WORKERS = 12
SYSTEM = "You are a test."
MESSAGES = [{"role": "user", "content": "spend"}]
MAX_TOKENS = 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_never_overspend_the_day(claude, budget_limit):
    bound = estimate_input_upper_bound(system=SYSTEM, messages=MESSAGES) + MAX_TOKENS
    budget_limit(bound * 3 + bound // 2, min_cycle=1)  # room for exactly three worst-case calls
    # Each reply costs its whole reservation and is slow, so the reservations overlap.
    claude.default = lambda recorded: message_reply(
        input_tokens=bound - MAX_TOKENS, output_tokens=MAX_TOKENS, delay=0.3
    )
    start = threading.Barrier(WORKERS)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            start.wait()
            claude_complete(system=SYSTEM, messages=MESSAGES, scope=Scope.PROACTIVE, max_tokens=MAX_TOKENS)
            outcomes.append("sent")
        except BudgetExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
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
