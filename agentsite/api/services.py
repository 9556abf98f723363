"""Writes the API needs that the apps' services don't offer yet.

`task_update` belongs in `actions/services.py` (next to `task_create`/`task_cancel`);
it lives here only until that module gains one, and follows the same rules: keyword-only,
one transaction, the state checked under a row lock.
"""

from django.db import transaction

from actions.errors import TaskInvalid, TaskNotFound, TaskStateError
from actions.models import Task, TaskStatus
from actions.services import TITLE_MAX_CHARS


@transaction.atomic
def task_update(
    *, task_id: int, title: str | None = None, description: str | None = None, priority: int | None = None
) -> Task:
    """Edit a pending task's title, description or priority (a started one is left alone)."""
    task = Task.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise TaskNotFound(task_id=task_id)
    if task.status != TaskStatus.PENDING:
        raise TaskStateError(
            f"Task #{task.pk} is {task.status}; only pending tasks can be edited",
            task_id=task.pk,
            status=task.status,
        )
    changed = []
    if title is not None:
        title = " ".join(title.split())
        if not title:
            raise TaskInvalid("A task needs a title")
        if len(title) > TITLE_MAX_CHARS:
            raise TaskInvalid(f"A task title can be at most {TITLE_MAX_CHARS} characters, got {len(title)}")
        task.title = title
        changed.append("title")
    if description is not None:
        task.description = description.strip()
        changed.append("description")
    if priority is not None:
        task.priority = priority
        changed.append("priority")
    if changed:
        task.save(update_fields=[*changed, "updated_at"])
    return task
