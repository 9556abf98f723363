"""The approval state machine: approve -> executed, reject, answer, expiry, double decisions."""

from datetime import timedelta

import pytest
import time_machine

from agentsite.core.clock import utc_now
from decisions.approvals import (
    approval_answer,
    approval_answer_option,
    approval_approve,
    approval_ask,
    approval_expire_due,
    approval_reject,
    approval_request_decision,
)
from decisions.errors import ApprovalNotFound, ApprovalNotPending, ApprovalWrongKind
from decisions.execution import approval_execute, approval_execute_stranded
from decisions.models import Approval, ApprovalKind, ApprovalStatus, Notification
from decisions.selectors import approval_effective_status, approval_list
from memory.models import MemoryEntry, MemoryKind
from telegrambot.taps import notification_keyboard
from tests.factories import decision
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def test_approving_executes_the_decision_once(master, django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="meditate", certainty=0.5)
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(approval_id=approval.pk, by="master", via="api")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    assert (approval.decided_by, approval.decided_via) == ("master", "api")
    assert approval.result["status"] == "ok"
    assert MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION).count() == 1
    assert approval_execute(approval_id=approval.pk) is None  # a second run does nothing
    assert MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION).count() == 1


def test_approved_outreach_is_sent_to_its_chat(master, django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="proactive_outreach", certainty=0.99)
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(approval_id=approval.pk, by="master", via="telegram")
    outreach = Notification.objects.get(chat_id=5555)
    assert outreach.text == "Hello from the agent" and outreach.status == "pending"


def test_rejecting_records_the_note_so_the_agent_learns(master):
    approval = ApprovalFactory(action="develop_skill")
    approval_reject(approval_id=approval.pk, by="master", via="admin", note="not now, rest")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED and approval.note == "not now, rest"
    guidance = MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE)  # the reason is the Master's feedback
    assert "rejected develop_skill" in guidance.content and "not now, rest" in guidance.content


def test_a_decided_approval_cannot_be_decided_again(master):
    approval = ApprovalFactory()
    approval_reject(approval_id=approval.pk, by="a", via="api")
    with pytest.raises(ApprovalNotPending, match="already rejected"):
        approval_approve(approval_id=approval.pk, by="b", via="telegram")
    with pytest.raises(ApprovalNotPending):
        approval_reject(approval_id=approval.pk, by="b", via="telegram")


def test_unknown_approvals_are_not_found():
    with pytest.raises(ApprovalNotFound):
        approval_approve(approval_id=999, by="x", via="api")


def test_questions_are_answered_and_become_guidance(master):
    question = ApprovalFactory(kind=ApprovalKind.QUESTION, question="Which first?", options=("Tea", "Code"))
    message = Notification.objects.get(kind="approval_request")
    keyboard = notification_keyboard(message).to_dict()  # the buttons Telegram gets
    assert [b["text"] for row in keyboard["inline_keyboard"] for b in row] == ["Tea", "Code"]
    approval_answer_option(approval_id=question.pk, option_index=1, by="master", via="telegram")
    question.refresh_from_db()
    assert (question.status, question.answer) == (ApprovalStatus.ANSWERED, "Code")
    guidance = MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE)
    assert "Which first?" in guidance.content and "Code" in guidance.content


def test_decisions_and_questions_are_not_interchangeable(master):
    question = approval_ask(question="Why?", cycle=None)
    with pytest.raises(ApprovalWrongKind):
        approval_approve(approval_id=question.pk, by="m", via="api")
    with pytest.raises(ApprovalWrongKind):
        approval_answer(approval_id=ApprovalFactory().pk, answer="yes", by="m", via="api")
    with pytest.raises(ApprovalWrongKind):
        approval_answer(approval_id=question.pk, answer="   ", by="m", via="api")


def test_an_overdue_approval_is_expired_before_and_after_the_sweep(master, settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 60
    approval = ApprovalFactory()
    with time_machine.travel(utc_now() + timedelta(minutes=2), tick=False):
        approval.refresh_from_db()
        assert approval_effective_status(approval) == "expired"  # before the sweep
        assert approval not in list(approval_list(status="pending"))
        with pytest.raises(ApprovalNotPending, match="expired"):
            approval_approve(approval_id=approval.pk, by="m", via="telegram")
        assert approval_expire_due() == 1
        assert approval_expire_due() == 0
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXPIRED
    assert Notification.objects.filter(kind="approval_expired", chat_id=1001).count() == 1
    assert "expired unanswered" in MemoryEntry.objects.get(kind=MemoryKind.OUTCOME).content


def test_a_pending_approval_is_listed_as_pending(master):
    approval = ApprovalFactory()
    assert list(approval_list(status="pending")) == [approval]


def test_an_approval_whose_execution_was_never_queued_is_executed_by_the_sweep(master):
    approval = ApprovalFactory(action="meditate", certainty=0.5)
    approval_approve(approval_id=approval.pk, by="master", via="api")  # on_commit never runs here
    assert approval_execute_stranded() == 0  # too fresh: its queued task may still come
    with time_machine.travel(utc_now() + timedelta(minutes=5), tick=False):
        assert approval_execute_stranded() == 1
        assert approval_execute_stranded() == 0
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED


def test_a_handler_that_breaks_fails_the_approval_and_tells_the_master(master, monkeypatch):
    import decisions.execution as execution

    approval = ApprovalFactory(action="meditate", certainty=0.5)
    approval_approve(approval_id=approval.pk, by="master", via="api")

    def broken(**kwargs):
        raise RuntimeError("handler bug")

    monkeypatch.setattr(execution, "action_execute", broken)
    execution.approval_execute(approval_id=approval.pk)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.FAILED
    assert approval.result == {"status": "failed", "error": "RuntimeError while executing"}
    assert Notification.objects.filter(kind="message", text__contains="could not be carried out").count() == 1


def test_an_execution_lost_with_its_worker_is_failed_by_the_sweep_not_rerun(master):
    approval = ApprovalFactory(action="meditate", certainty=0.5)
    approval_approve(approval_id=approval.pk, by="master", via="api")
    Approval.objects.filter(pk=approval.pk).update(result={"status": "running"})  # claimed, then killed
    assert approval_execute_stranded() == 0
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED  # still within a task's lifetime
    with time_machine.travel(utc_now() + timedelta(hours=1), tick=False):
        approval_execute_stranded()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.FAILED
    assert MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION).count() == 0  # not run twice


def test_the_master_sees_the_whole_message_an_outreach_would_send(master):
    long_message = "Hello! " * 300 + "PS: the last line matters."
    approval = approval_request_decision(
        decision=decision("proactive_outreach", certainty=1.0, chat_id=5555, message=long_message), cycle=None
    )
    request = Notification.objects.get(approval=approval, kind="approval_request")
    assert long_message in request.text


@pytest.mark.fault("Claude retry-after 4,000,000 s")
def test_an_approved_actions_retry_after_holds_back_the_next_cycle(claude, master):
    from decisions.models import AgentState
    from tests.actions.factories import make_task
    from tests.fakes.anthropic_api import error_reply

    task = make_task()
    approval = ApprovalFactory(action="work_on_task", certainty=0.5, details={"task_id": task.pk, "approach": "short"})
    claude.enqueue(error_reply(429, "rate_limit_error", retry_after="4000000"))
    before = utc_now()
    approval_approve(approval_id=approval.pk, by="master", via="api")
    approval_execute(approval_id=approval.pk)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.FAILED and approval.result["status"] == "failed"
    assert AgentState.objects.get().next_run_at >= before + timedelta(seconds=4_000_000)


def _approve_a_meditation() -> None:
    approval = ApprovalFactory(action="meditate", certainty=0.5)
    approval_approve(approval_id=approval.pk, by="master", via="api")
    approval_execute(approval_id=approval.pk)


def test_an_approved_meditation_stretches_the_pause_before_the_next_cycle(master):
    from decisions.agent import agent_state_get

    _approve_a_meditation()
    assert agent_state_get().next_run_at >= utc_now() + timedelta(seconds=100)


def test_an_approved_meditation_never_brings_the_next_cycle_forward(master):
    from decisions.agent import agent_schedule, agent_state_get

    agent_state_get()
    later = utc_now() + timedelta(days=1)
    agent_schedule(next_run_at=later)
    _approve_a_meditation()
    assert agent_state_get().next_run_at == later


@pytest.mark.parametrize("significance, reported", [(0.85, True), (0.8, True), (0.79, False)])
def test_an_approved_action_is_reported_by_the_same_significance_rule_as_a_cycles(master, significance, reported):
    approval = ApprovalFactory(action="meditate", certainty=0.5, significance=significance)
    approval_approve(approval_id=approval.pk, by="master", via="api")
    approval_execute(approval_id=approval.pk)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    reports = Notification.objects.filter(kind="significant_result", chat_id=1001)
    assert reports.count() == (1 if reported else 0)
    if reported:
        assert reports.get().text.startswith("Significant result: meditate (ok)")
