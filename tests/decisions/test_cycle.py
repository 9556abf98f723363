"""One proactive cycle, end to end, against the loopback Anthropic fake."""

from datetime import timedelta

import pytest
import time_machine

from agentsite.core.clock import next_utc_midnight, utc_now
from budget.models import LedgerEntry, Reservation, ReservationStatus, Scope
from decisions.agent import agent_pause, agent_state_get, cycle_lock_acquire
from decisions.models import AgentState, Approval, Cycle, CycleStatus, Notification
from decisions.services import cycle_run, proactive_tick
from memory.models import MemoryEntry, MemoryKind
from telegrambot.taps import notification_keyboard
from tests.factories import decision, decision_text
from tests.fakes.anthropic_api import OVERLOADED, SERVER_ERROR

pytestmark = pytest.mark.django_db


@pytest.fixture
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def kinds(kind):
    return Notification.objects.filter(kind=kind)


def test_a_sure_decision_is_executed_and_remembered(claude, master):
    claude.reply_text(decision_text(action="meditate", certainty=0.9, significance=0.2))
    run = cycle_run()
    cycle = run.cycle
    assert (cycle.status, cycle.reason, cycle.action, cycle.executed) == (CycleStatus.COMPLETED, "", "meditate", True)
    assert cycle.result["status"] == "ok"
    assert cycle.decision["details"]["duration"] == 120
    assert MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION, cycle_id=cycle.pk).exists()
    assert MemoryEntry.objects.filter(kind=MemoryKind.CYCLE_SUMMARY, cycle_id=cycle.pk).exists()
    assert MemoryEntry.objects.filter(kind=MemoryKind.AROMA, cycle_id=cycle.pk).exists()
    assert run.next_run_in_seconds >= 120  # the meditation stretches the pause
    assert Approval.objects.count() == 0
    assert not kinds("significant_result").exists()


def test_the_call_is_metered_cacheable_and_names_the_cycle(claude):
    claude.reply_text(decision_text())
    run = cycle_run()
    body = claude.message_requests[0].json
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"] == run.cycle.prompt
    entry = LedgerEntry.objects.get()
    assert entry.scope == Scope.PROACTIVE and entry.meta["cycle_id"] == run.cycle.pk
    assert run.cycle.tokens == {"input": 100, "output": 20, "cache_creation": 0, "cache_read": 0}


def test_an_unsure_decision_waits_for_the_master(claude, master):
    claude.reply_text(decision_text(action="develop_skill", certainty=0.79))
    run = cycle_run()
    assert run.cycle.status == CycleStatus.AWAITING_APPROVAL
    approval = Approval.objects.get()
    assert run.approval_id == approval.pk
    assert (approval.status, approval.kind, approval.action, approval.cycle_id) == ("pending", "decision", "develop_skill", run.cycle.pk)
    request = kinds("approval_request").get()
    assert request.chat_id == 1001 and "develop_skill" in request.text
    keyboard = notification_keyboard(request).to_dict()  # the buttons Telegram gets
    assert keyboard["inline_keyboard"][0][0]["callback_data"] == f"approve:{approval.pk}"
    assert run.cycle.executed is False
    assert len(claude.message_requests) == 1  # the skill was not practised


@pytest.mark.parametrize(
    "reply",
    [
        decision(action="proactive_outreach", certainty=1.0),
        decision(action="communicate", certainty=0.99, recipient="4242", message="hi stranger"),
    ],
)
def test_outreach_always_needs_approval(claude, master, reply):
    import json

    claude.reply_text(json.dumps(reply))
    run = cycle_run()
    assert run.cycle.status == CycleStatus.AWAITING_APPROVAL
    assert not Notification.objects.exclude(chat_id=1001).exists()  # nothing went to the stranger


def test_a_significant_result_is_reported(claude, master):
    claude.reply_text(decision_text(action="meditate", certainty=0.95, significance=0.8))
    cycle_run()
    report = kinds("significant_result").get()
    assert "meditate" in report.text and report.chat_id == 1001


@pytest.mark.fault("Claude reply that is not a valid decision")
def test_invalid_decision_fails_the_cycle_and_executes_nothing(claude):
    claude.reply_text("I think I will rest today, no JSON for you.")
    run = cycle_run()
    cycle = run.cycle
    assert (cycle.status, cycle.reason) == (CycleStatus.FAILED, "invalid_decision")
    assert cycle.raw_response.startswith("I think I will rest")
    assert cycle.error
    assert not MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION).exists()
    assert LedgerEntry.objects.count() == 1  # the call still counted
    assert Reservation.objects.get().status == ReservationStatus.SETTLED
    assert agent_state_get().consecutive_failures == 1


@pytest.mark.fault("Claude reply that is not a valid decision")
@pytest.mark.parametrize("bad", [
    decision(certainty=1.5), decision(action="dance"), decision(action="develop_skill", skill_name=None),
])
def test_out_of_range_unknown_or_incomplete_decisions_are_invalid(claude, bad):
    import json

    if bad["action"] == "develop_skill":
        bad["details"] = {"approach": "no name"}
    claude.reply_text(json.dumps(bad))
    assert cycle_run().cycle.reason == "invalid_decision"


@pytest.mark.parametrize(("failure", "reason"), [
    pytest.param(OVERLOADED, "overloaded", marks=pytest.mark.fault("Claude 529")),
    pytest.param(SERVER_ERROR, "server_error", marks=pytest.mark.fault("Claude 500")),
])
def test_api_outage_fails_the_cycle_releases_the_budget_and_backs_off(claude, failure, reason):
    claude.fail(failure, times=3)
    first = cycle_run()
    assert (first.cycle.status, first.cycle.reason) == (CycleStatus.FAILED, reason)
    assert Reservation.objects.get().status == ReservationStatus.RELEASED
    claude.fail(failure, times=3)
    second = cycle_run()
    assert agent_state_get().consecutive_failures == 2
    assert second.next_run_in_seconds > first.next_run_in_seconds >= 60
    claude.reply_text(decision_text())
    cycle_run()
    assert agent_state_get().consecutive_failures == 0


def test_paused_agent_skips_without_calling_the_model(claude):
    agent_pause()
    run = cycle_run()
    assert (run.cycle.status, run.cycle.reason) == (CycleStatus.SKIPPED, "paused")
    assert claude.requests == []


def test_no_credentials_skips(settings, fake_anthropic):
    run = cycle_run()
    assert (run.cycle.status, run.cycle.reason) == (CycleStatus.SKIPPED, "no_credentials")
    assert fake_anthropic.requests == []


def test_an_exhausted_budget_sleeps_until_midnight_and_tells_the_master_once(claude, budget_limit, master):
    budget_limit(5_000, min_cycle=100)  # less than one cycle's reservation
    first = cycle_run()
    second = cycle_run()
    for run in (first, second):
        assert (run.cycle.status, run.cycle.reason) == (CycleStatus.SKIPPED, "budget_exhausted")
    assert claude.requests == []
    assert agent_state_get().next_run_at == next_utc_midnight()
    assert kinds("budget_exhausted").count() == 1


def test_another_running_cycle_holds_the_lock(claude):
    assert cycle_lock_acquire() is not None
    run = cycle_run()
    assert (run.cycle.status, run.cycle.reason) == (CycleStatus.SKIPPED, "locked")
    assert claude.requests == []


@pytest.mark.fault("SIGKILL mid-call")
def test_a_cycle_left_running_by_a_killed_process_is_failed_by_the_next(claude):
    stale = Cycle.objects.create(status=CycleStatus.RUNNING)
    cycle_lock_acquire()  # the dead process's lock
    with time_machine.travel(utc_now() + timedelta(hours=1), tick=False):
        claude.reply_text(decision_text())
        run = cycle_run()
    stale.refresh_from_db()
    assert (stale.status, stale.reason) == (CycleStatus.FAILED, "abandoned")
    assert run.cycle.status == CycleStatus.COMPLETED
    assert AgentState.objects.get().lock_token is None


def test_the_tick_runs_a_cycle_only_when_due(claude):
    claude.reply_text(decision_text())
    assert proactive_tick().endswith("completed")
    assert proactive_tick() == "not_due"
    agent_pause()
    assert proactive_tick() == "paused"
    assert len(claude.message_requests) == 1


def test_the_next_prompt_remembers_the_last_cycle(claude):
    claude.reply_text(decision_text(reasoning="the garden needs tending"))
    cycle_run()
    claude.reply_text(decision_text())
    second = cycle_run()
    assert "the garden needs tending" in second.cycle.prompt


def test_a_crash_while_getting_ready_is_a_failed_cycle_that_backs_off(claude, monkeypatch):
    import decisions.services as services

    def broken(**kwargs):
        raise RuntimeError("selector bug")

    monkeypatch.setattr(services, "prompt_context_gather", broken)
    run = cycle_run()
    assert (run.cycle.status, run.cycle.reason, run.cycle.error) == (CycleStatus.FAILED, "internal_error", "RuntimeError")
    assert agent_state_get().consecutive_failures == 1
    assert AgentState.objects.get().lock_token is None
    assert claude.requests == []
