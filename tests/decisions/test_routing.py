"""Each of the six actions, decided with high certainty, routed through a real cycle."""

import json

import pytest

from actions.models import Skill
from actions.services import task_create
from decisions.models import Approval, CycleStatus, Notification
from decisions.services import cycle_run
from memory.models import MemoryEntry, MemoryKind
from tests.factories import decision

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def run_with(claude, reply: dict, *then: str):
    claude.reply_text(json.dumps(reply))
    for text in then:
        claude.reply_text(text)
    return cycle_run()


def test_develop_skill_practises_with_a_second_model_call(claude):
    run = run_with(claude, decision("develop_skill", certainty=0.9), "Haiku: 5-7-5 syllables, a seasonal word.")
    assert run.cycle.status == CycleStatus.COMPLETED and run.cycle.result["status"] == "ok"
    skill = Skill.objects.get()
    assert skill.practice_count == 1 and "5-7-5" in skill.notes
    assert MemoryEntry.objects.filter(kind=MemoryKind.SKILL_NOTE).exists()
    assert len(claude.message_requests) == 2


def test_work_on_task_delivers_the_task(claude):
    task = task_create(title="Write a greeting", description="for new members", source="api")
    reply = decision("work_on_task", certainty=0.85, task_id=task.pk, approach="warm and short")
    run = run_with(claude, reply, "Welcome, friend!")
    task.refresh_from_db()
    assert (task.status, task.result) == ("done", "Welcome, friend!")
    assert run.cycle.result["task_id"] == task.pk


def test_work_on_a_missing_task_is_reported_not_crashed(claude):
    run = run_with(claude, decision("work_on_task", certainty=0.85, task_id=999))
    assert run.cycle.status == CycleStatus.COMPLETED
    assert run.cycle.result["status"] == "not_found"


def test_communicate_to_the_master_queues_a_message(claude):
    reply = decision("communicate", certainty=0.9, recipient="master", message="Good news", priority="high")
    run_with(claude, reply)
    message = Notification.objects.get(kind="message")
    assert message.chat_id == 1001 and message.text.endswith("Good news") and message.text.startswith("‼️")


def test_meditate_stretches_the_next_interval(claude):
    run = run_with(claude, decision("meditate", certainty=0.9, duration=900, reflection_topic="silence"))
    assert run.cycle.decision["details"]["duration"] == 600  # capped
    assert run.next_run_in_seconds >= 600


def test_ask_master_asks_and_does_not_wait(claude):
    run = run_with(claude, decision("ask_master", certainty=0.95))
    assert run.cycle.status == CycleStatus.COMPLETED
    question = Approval.objects.get(kind="question")
    assert run.approval_id == question.pk and question.options == ["A", "B"]
    assert Notification.objects.get(kind="approval_request").approval_id == question.pk


def test_outreach_waits_for_approval_and_then_goes_out(claude, django_capture_on_commit_callbacks):
    from decisions.approvals import approval_approve

    run = run_with(claude, decision("proactive_outreach", certainty=1.0))
    assert run.cycle.status == CycleStatus.AWAITING_APPROVAL
    assert not Notification.objects.filter(chat_id=5555).exists()
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(approval_id=run.approval_id, by="master", via="telegram")
    assert Notification.objects.get(chat_id=5555).text == "Hello from the agent"
    assert Approval.objects.get(pk=run.approval_id).status == "executed"


def test_the_answer_to_a_question_reaches_the_next_prompt(claude):
    from decisions.approvals import approval_answer

    first = run_with(claude, decision("ask_master", certainty=0.95, question="Rest or work?"))
    approval_answer(approval_id=first.approval_id, answer="Rest today", by="master", via="telegram")
    second = run_with(claude, decision("meditate"))
    assert "Rest today" in second.cycle.prompt


@pytest.mark.parametrize("reply", [
    decision("communicate", certainty=0.95, recipient="bob", message="hi"),
    decision("communicate", certainty=0.95, recipient=str(2**70), message="hi"),
    decision("proactive_outreach", certainty=0.95, chat_id=2**70, message="hi"),
])
def test_messages_that_could_never_be_sent_are_invalid_not_put_to_the_master(claude, reply):
    run = run_with(claude, reply)
    assert (run.cycle.status, run.cycle.reason) == (CycleStatus.FAILED, "invalid_decision")
    assert Approval.objects.count() == 0
