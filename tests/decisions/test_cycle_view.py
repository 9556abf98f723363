"""The lean cycle's one read agrees with the reads it replaces, and what it leaves out."""

import pytest
import time_machine

from actions.models import CLOSED_STATUSES, OPEN_STATUSES, TaskStatus
from agentsite.core.clock import utc_now
from budget.client import claude_calls_refused, claude_complete
from budget.models import Scope
from budget.selectors import budget_stats
from budget.services import budget_reserve, budget_settle
from budget.usage import TokenUsage
from decisions.agent import agent_state_get
from decisions.models import Approval, ApprovalKind, ApprovalStatus, CycleStatus
from decisions.selectors import (
    cycle_view_read, cycles_today_count, pacing_day_spend, pacing_day_spend_after, prompt_context_gather,
)
from memory.services import memory_add_guidance, memory_set_focus, memory_store_aroma
from tests.factories.decisions import CycleFactory

pytestmark = pytest.mark.django_db


def test_open_and_closed_task_statuses_are_every_status_once():
    # task_list_open reads "not closed": the two must cover every status, without overlap.
    assert set(OPEN_STATUSES) | set(CLOSED_STATUSES) == set(TaskStatus.values)
    assert not set(OPEN_STATUSES) & set(CLOSED_STATUSES)


def test_no_state_row_no_view():
    assert cycle_view_read() is None


def test_the_view_agrees_with_the_reads_it_replaces():
    agent_state_get()
    CycleFactory(status=CycleStatus.COMPLETED)
    memory_set_focus(content="Learn Rust")
    memory_store_aroma(content="a scent")
    memory_add_guidance(content="Be brief.")
    reservation = budget_reserve(amount=1_000)
    budget_settle(reservation_id=reservation.pk, usage=TokenUsage(input=300, output=20), model="m", reservation=reservation)
    budget_reserve(amount=500)

    now = utc_now()
    view = cycle_view_read(now=now)
    full = prompt_context_gather(now=now)
    lean = prompt_context_gather(now=now, view=view)
    assert lean == full
    assert view.budget == budget_stats()["proactive"]
    assert view.cycles_today == cycles_today_count() == 1
    assert not view.any_pending_approval and not view.any_running


def test_the_view_says_which_lists_to_read():
    agent_state_get()
    assert not cycle_view_read().any_new_answer
    memory_add_guidance(content="Be brief.")
    Approval.objects.create(kind=ApprovalKind.QUESTION, status=ApprovalStatus.PENDING, question="?", expires_at=utc_now())
    view = cycle_view_read()
    assert view.any_new_answer and view.any_pending_approval
    # An expired one still counts here; approval_list applies the expiry rule.
    assert prompt_context_gather(view=view).open_approvals == []


def test_pacing_after_a_cycle_adds_its_calls_to_the_view():
    agent_state_get()
    view = cycle_view_read()
    reservation = budget_reserve(amount=1_000)
    budget_settle(reservation_id=reservation.pk, usage=TokenUsage(input=300, output=20), model="m", reservation=reservation)
    CycleFactory(status=CycleStatus.COMPLETED)
    with time_machine.travel(utc_now(), tick=False):
        assert pacing_day_spend_after(view=view, spent_since=320) == pacing_day_spend()


def test_refused_calls_fail_before_anything_is_reserved_or_sent(claude):
    with claude_calls_refused(), pytest.raises(RuntimeError):
        claude_complete(system="s", messages=[{"role": "user", "content": "hi"}], scope=Scope.PROACTIVE)
    assert claude.requests == []
