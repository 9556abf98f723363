from datetime import timedelta

import pytest

from actions.errors import SkillInvalid, TaskInvalid, TaskNotCancellable, TaskNotFound, TaskNotRunnable
from actions.models import Skill, TaskSource, TaskStatus
from actions.services import (
    SKILL_NOTES_MAX_CHARS,
    skill_practise,
    task_cancel,
    task_complete,
    task_create,
    task_fail,
    task_start,
)
from agentsite.core.errors import ApplicationError
from memory.models import MemoryEntry, MemoryKind
from tests.factories.actions import TaskFactory

pytestmark = pytest.mark.django_db


def test_task_create_makes_a_pending_task_with_tidy_text():
    task = task_create(title="  Plan   the garden ", description=" beds first ", priority=1, source=TaskSource.TELEGRAM)
    assert (task.title, task.description, task.priority) == ("Plan the garden", "beds first", 1)
    assert (task.status, task.source) == (TaskStatus.PENDING, "telegram")
    assert task.started_at is None and task.finished_at is None


def test_task_create_defaults_to_priority_three():
    assert task_create(title="Tidy", source=TaskSource.API).priority == 3


@pytest.mark.parametrize("priority", [0, 6, -1, "2", 2.5, True])
def test_task_create_refuses_a_priority_outside_one_to_five(priority):
    with pytest.raises(TaskInvalid, match="Priority must be a whole number from 1"):
        task_create(title="x", priority=priority, source=TaskSource.API)


@pytest.mark.parametrize(("title", "message"), [("   ", "needs a title"), ("x" * 201, "at most 200")])
def test_task_create_refuses_a_blank_or_long_title(title, message):
    with pytest.raises(TaskInvalid, match=message):
        task_create(title=title, source=TaskSource.API)


def test_task_create_refuses_an_unknown_source():
    with pytest.raises(TaskInvalid, match="source"):
        task_create(title="x", source="carrier-pigeon")


def test_task_errors_are_application_errors_with_a_kind():
    with pytest.raises(ApplicationError) as error:
        task_start(task_id=12345)
    assert isinstance(error.value, TaskNotFound)
    assert error.value.kind == "not_found" and error.value.message == "Task #12345 does not exist"


def test_a_pending_task_can_be_cancelled():
    task = task_cancel(task_id=TaskFactory().pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED and task.finished_at is not None


@pytest.mark.parametrize("status", [TaskStatus.RUNNING, TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_only_pending_tasks_can_be_cancelled(status):
    task = TaskFactory(status=status)
    with pytest.raises(TaskNotCancellable) as error:
        task_cancel(task_id=task.pk)
    assert error.value.message == f"Task #{task.pk} is {status}; only pending tasks can be cancelled"
    assert error.value.kind == "conflict" and error.value.extra == {"task_id": task.pk, "status": status}
    task.refresh_from_db()
    assert task.status == status


def test_cancelling_a_missing_task_is_not_found():
    with pytest.raises(TaskNotFound):
        task_cancel(task_id=404)


def test_a_task_goes_pending_running_done():
    task = TaskFactory()
    started = task_start(task_id=task.pk)
    assert started.status == TaskStatus.RUNNING and started.started_at is not None
    done = task_complete(task_id=task.pk, result="the deliverable")
    assert (done.status, done.result) == (TaskStatus.DONE, "the deliverable")
    assert MemoryEntry.objects.get(kind=MemoryKind.TASK_RESULT).meta == {"task_id": task.pk, "status": "done"}


def test_a_task_being_worked_on_is_not_started_twice():
    task = TaskFactory()
    task_start(task_id=task.pk)
    with pytest.raises(TaskNotRunnable, match="being worked on right now"):
        task_start(task_id=task.pk)


def test_an_abandoned_running_task_is_resumed_keeping_its_first_start_time():
    import time_machine

    task = TaskFactory()
    first = task_start(task_id=task.pk).started_at
    with time_machine.travel(first + timedelta(hours=1), tick=False):
        assert task_start(task_id=task.pk).started_at == first


def test_only_a_running_task_can_be_completed():
    task = TaskFactory()
    with pytest.raises(TaskNotRunnable, match="only a running task can be completed"):
        task_complete(task_id=task.pk, result="too soon")
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING and task.result == ""


def test_a_failed_task_keeps_the_error_and_cannot_fail_again():
    task = TaskFactory(status=TaskStatus.RUNNING)
    failed = task_fail(task_id=task.pk, error="no network", cycle_id=3)
    assert (failed.status, failed.error) == (TaskStatus.FAILED, "no network")
    assert MemoryEntry.objects.get(kind=MemoryKind.TASK_RESULT).cycle_id == 3
    with pytest.raises(TaskNotRunnable):
        task_fail(task_id=task.pk, error="again")
    with pytest.raises(TaskNotRunnable):
        task_start(task_id=task.pk)


def test_skill_practise_creates_then_counts_up_one_skill_per_normalised_name():
    first = skill_practise(name="Public  Speaking", note="breathe", cycle_id=1)
    second = skill_practise(name="public speaking ", note="pause", cycle_id=2)
    assert first.pk == second.pk and Skill.objects.count() == 1
    assert second.practice_count == 2 and second.name == "Public Speaking"
    assert "breathe" in second.notes and "pause" in second.notes
    notes = MemoryEntry.objects.filter(kind=MemoryKind.SKILL_NOTE).order_by("id")
    assert [n.cycle_id for n in notes] == [1, 2]
    assert all(n.meta["skill_id"] == first.pk for n in notes)


@pytest.mark.parametrize(("name", "note"), [("  ", "a note"), ("Rust", "   ")])
def test_skill_practise_needs_a_name_and_a_note(name, note):
    with pytest.raises(SkillInvalid):
        skill_practise(name=name, note=note)
    assert Skill.objects.count() == 0 and MemoryEntry.objects.count() == 0


def test_skill_notes_stay_bounded_and_keep_the_newest_whole_entries():
    for i in range(40):
        skill = skill_practise(name="Go", note=f"note {i:02d} " + "y" * 500)
    assert len(skill.notes) <= SKILL_NOTES_MAX_CHARS
    assert skill.notes.startswith("## ")  # trimmed at an entry boundary
    assert "note 39" in skill.notes and "note 00" not in skill.notes
    assert skill.practice_count == 40
