"""The task admin moves a task only through the task services: status, result and error are
read-only, and each admin action is one state-machine transition (refusals shown as messages)."""

import pytest
from django.contrib.messages import get_messages

from actions.models import TaskStatus
from memory.models import MemoryEntry, MemoryKind

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/actions/task/"


def act(admin_client, action: str, *tasks) -> list[tuple[str, str]]:
    """Run an admin action on the tasks; the (level, text) messages it left."""
    response = admin_client.post(CHANGELIST, {"action": action, "_selected_action": [t.pk for t in tasks]})
    assert response.status_code == 302
    for task in tasks:
        task.refresh_from_db()
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_status_result_and_error_cannot_be_edited_on_the_form(admin_client, task_factory):
    task = task_factory(title="Tidy up", status=TaskStatus.RUNNING)
    page = admin_client.get(f"{CHANGELIST}{task.pk}/change/").content.decode()
    assert 'name="status"' not in page and 'name="result"' not in page and 'name="error"' not in page
    response = admin_client.post(
        f"{CHANGELIST}{task.pk}/change/",
        {"title": "Tidy up the shed", "description": "", "priority": 2,
         "status": "done", "result": "forged", "error": "forged"},
    )
    assert response.status_code == 302, response.content
    task.refresh_from_db()
    assert (task.title, task.priority) == ("Tidy up the shed", 2)
    assert (task.status, task.result, task.error) == (TaskStatus.RUNNING, "", "")


def test_cancel_moves_pending_tasks_and_refuses_a_running_one(admin_client, task_factory):
    pending = task_factory()
    running = task_factory(status=TaskStatus.RUNNING)
    shown = act(admin_client, "cancel", pending, running)
    assert (pending.status, running.status) == (TaskStatus.CANCELLED, TaskStatus.RUNNING)
    assert pending.finished_at is not None
    assert ("error", f"Task #{running.pk} is running; only pending tasks can be cancelled") in shown
    assert ("success", f"Cancelled 1 task(s): #{pending.pk}.") in shown


def test_put_back_in_queue_returns_a_running_task_to_pending(admin_client, task_factory):
    running = task_factory(status=TaskStatus.RUNNING)
    done = task_factory(status=TaskStatus.DONE)
    shown = act(admin_client, "put_back_in_queue", running, done)
    assert (running.status, done.status) == (TaskStatus.PENDING, TaskStatus.DONE)
    assert ("error", f"Task #{done.pk} is done; only a running task can be put back in the queue") in shown


def test_mark_done_completes_a_running_task_and_remembers_it(admin_client, admin_user, task_factory):
    running = task_factory(title="Water plants", status=TaskStatus.RUNNING)
    pending = task_factory(title="Not started")
    shown = act(admin_client, "mark_done", running, pending)
    assert running.status == TaskStatus.DONE
    assert running.result == f"Marked done in the admin by {admin_user.get_username()}."
    assert pending.status == TaskStatus.PENDING
    assert ("error", f"Task #{pending.pk} is pending; only a running task can be completed") in shown
    memory = MemoryEntry.objects.get(kind=MemoryKind.TASK_RESULT)
    assert memory.meta == {"task_id": running.pk, "status": TaskStatus.DONE}


def test_mark_failed_fails_open_tasks_only(admin_client, task_factory):
    pending = task_factory()
    cancelled = task_factory(status=TaskStatus.CANCELLED)
    shown = act(admin_client, "mark_failed", pending, cancelled)
    assert pending.status == TaskStatus.FAILED and pending.error.startswith("Marked failed in the admin by ")
    assert cancelled.status == TaskStatus.CANCELLED
    assert ("error", f"Task #{cancelled.pk} is cancelled; only an open task can fail") in shown
    assert ("success", f"Marked failed 1 task(s): #{pending.pk}.") in shown
