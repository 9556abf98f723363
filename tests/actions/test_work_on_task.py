import json

import pytest

from actions.handlers.work_on_task import DELIVERABLE_EXCERPT_CHARS, MAX_DELIVERABLE_TOKENS
from django.db import connection

from actions.models import Task, TaskStatus
from budget.models import LedgerEntry
from memory.models import MemoryEntry, MemoryKind
from tests.factories.actions import TaskFactory
from tests.fakes.anthropic_api import SERVER_ERROR, message_reply

pytestmark = pytest.mark.django_db


def test_work_on_task_marks_the_task_done_with_the_deliverable(claude, run):
    task = TaskFactory(title="Draft a welcome note", description="for new volunteers")
    claude.reply_text("Welcome, friends! ...")
    result = run("work_on_task", {"task_id": task.pk, "approach": "warm and short"})
    task.refresh_from_db()
    assert result.status == "ok"
    assert (task.status, task.result, task.error) == (TaskStatus.DONE, "Welcome, friends! ...", "")
    assert task.started_at is not None and task.finished_at >= task.started_at
    assert result.data == {
        "task_id": task.pk,
        "task_status": "done",
        "deliverable": "Welcome, friends! ...",
        "summary": "finished task #%d 'Draft a welcome note'" % task.pk,
    }
    json.dumps(result.as_dict())


def test_work_on_task_sends_the_task_and_approach_to_the_model(claude, run):
    task = TaskFactory(title="Draft a welcome note", description="for new volunteers")
    run("work_on_task", {"task_id": task.pk, "approach": "warm and short"})
    body = claude.message_requests[0].json
    prompt = body["messages"][0]["content"]
    assert "Draft a welcome note" in prompt and "for new volunteers" in prompt and "warm and short" in prompt
    assert body["max_tokens"] == MAX_DELIVERABLE_TOKENS


def test_work_on_task_leaves_a_task_result_memory(claude, run):
    task = TaskFactory(title="Summarise the week")
    claude.reply_text("A calm week.")
    run("work_on_task", {"task_id": task.pk}, cycle_id=9)
    memory = MemoryEntry.objects.get(kind=MemoryKind.TASK_RESULT)
    assert "Summarise the week" in memory.content and "A calm week." in memory.content
    assert memory.cycle_id == 9 and memory.meta == {"task_id": task.pk, "status": "done"}


def test_a_long_deliverable_is_kept_whole_on_the_task_but_truncated_in_the_result(claude, run):
    task = TaskFactory()
    claude.reply_text("x" * 5_000)
    result = run("work_on_task", {"task_id": task.pk})
    task.refresh_from_db()
    assert len(task.result) == 5_000
    assert len(result.data["deliverable"]) == DELIVERABLE_EXCERPT_CHARS


def test_work_on_task_records_a_proactive_ledger_row_for_the_cycle(claude, run):
    task = TaskFactory()
    run("work_on_task", {"task_id": task.pk}, cycle_id=11)
    entry = LedgerEntry.objects.get()
    assert entry.scope == "proactive"
    assert entry.meta["cycle_id"] == 11 and entry.meta["action"] == "work_on_task"


def test_a_running_task_left_by_a_crashed_cycle_can_be_resumed(claude, run):
    task = TaskFactory(status=TaskStatus.RUNNING)
    assert run("work_on_task", {"task_id": task.pk}).status == "ok"
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_work_on_a_missing_task_is_not_found(claude, run):
    result = run("work_on_task", {"task_id": 999})
    assert result.status == "not_found"
    assert result.data["task_id"] == 999 and "does not exist" in result.data["error"]
    assert claude.requests == []


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_work_on_a_finished_task_is_not_runnable_and_changes_nothing(claude, run, status):
    task = TaskFactory(status=status, result="earlier result")
    result = run("work_on_task", {"task_id": task.pk})
    assert result.status == "not_runnable"
    assert result.data["task_status"] == status
    task.refresh_from_db()
    assert (task.status, task.result) == (status, "earlier result")
    assert claude.requests == [] and MemoryEntry.objects.count() == 0


@pytest.mark.parametrize("details", [{}, {"task_id": 0}, {"task_id": "abc"}])
def test_work_on_task_needs_a_valid_task_id(claude, run, details):
    assert run("work_on_task", details).status == "invalid_details"


def test_when_the_api_keeps_failing_the_task_is_marked_failed(claude, run, budget_limit):
    budget_limit(100_000)
    task = TaskFactory()
    claude.fail(SERVER_ERROR, times=3)
    result = run("work_on_task", {"task_id": task.pk}, cycle_id=5)
    task.refresh_from_db()
    assert result.status == "failed"
    assert (task.status, task.error) == (TaskStatus.FAILED, "Claude API call failed (server_error, HTTP 500)")
    assert result.data["task_status"] == "failed" and result.data["error"] == task.error
    memory = MemoryEntry.objects.get(kind=MemoryKind.TASK_RESULT)
    assert "server_error" in memory.content and memory.meta["status"] == "failed"
    assert LedgerEntry.objects.count() == 0


def test_when_the_budget_is_too_small_no_request_is_sent_and_the_task_waits(claude, run, budget_limit):
    budget_limit(100)
    task = TaskFactory()
    result = run("work_on_task", {"task_id": task.pk})
    task.refresh_from_db()
    assert result.status == "deferred" and "budget exceeded" in result.data["error"].lower()
    assert task.status == TaskStatus.PENDING and task.error == ""
    assert claude.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_task_cancelled_while_the_model_works_is_left_cancelled(claude, run):
    task = TaskFactory()

    def cancel_meanwhile(recorded):  # runs in the fake's thread, like an edit in the admin
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.CANCELLED)
        connection.close()
        return message_reply("the deliverable")

    claude.enqueue(cancel_meanwhile)
    result = run("work_on_task", {"task_id": task.pk})
    task.refresh_from_db()
    assert result.status == "not_runnable" and result.data["task_status"] == "cancelled"
    assert task.status == TaskStatus.CANCELLED and task.result == ""
