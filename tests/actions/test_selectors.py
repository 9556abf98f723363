import pytest
from django.utils import timezone

from actions.errors import TaskNotFound
from actions.models import TaskStatus
from actions.selectors import (
    skill_list, task_get, task_list, task_list_open, task_list_open_brief, tasks_count_open,
)
from tests.factories.actions import SkillFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_open_tasks_are_pending_and_running_most_urgent_then_oldest_first():
    low = TaskFactory(title="low", priority=5)
    old_urgent = TaskFactory(title="old urgent", priority=1)
    new_urgent = TaskFactory(title="new urgent", priority=1, status=TaskStatus.RUNNING)
    for status in (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED):
        TaskFactory(title=status, priority=1, status=status)
    assert task_list_open(limit=10) == [old_urgent, new_urgent, low]
    assert tasks_count_open() == 3


def test_open_tasks_are_bounded_by_the_limit():
    for i in range(5):
        TaskFactory(title=f"t{i}")
    assert len(task_list_open(limit=2)) == 2


def test_open_task_briefs_are_the_open_tasks_in_the_same_order():
    low = TaskFactory(title="low", priority=5, description="later")
    urgent = TaskFactory(title="urgent", priority=1, status=TaskStatus.RUNNING)
    TaskFactory(title="done", priority=1, status=TaskStatus.DONE)
    assert task_list_open_brief(limit=10) == [
        {"id": t.pk, "title": t.title, "priority": t.priority, "status": t.status, "description": t.description}
        for t in (urgent, low)
    ]
    assert task_list_open_brief(limit=1) == task_list_open_brief(limit=1) == [task_list_open_brief(limit=10)[0]]


def test_task_list_filters_by_status():
    done = TaskFactory(status=TaskStatus.DONE)
    TaskFactory()
    assert task_list(status=TaskStatus.DONE) == [done]
    assert len(task_list()) == 2


def test_task_get_raises_not_found_for_a_missing_task():
    assert task_get(task_id=TaskFactory().pk).title
    with pytest.raises(TaskNotFound):
        task_get(task_id=999)


def test_skill_list_shows_the_most_recently_practised_first_and_is_bounded():
    now = timezone.now()
    never = SkillFactory(name="Never")
    old = SkillFactory(name="Old", last_practised_at=now - timezone.timedelta(days=2))
    recent = SkillFactory(name="Recent", last_practised_at=now)
    assert skill_list(limit=10) == [recent, old, never]
    assert skill_list(limit=1) == [recent]
