"""Small builders for task and skill rows in tests."""

from actions.models import Task, TaskSource, TaskStatus


def make_task(*, title: str = "Write a haiku about budgets", status: str = TaskStatus.PENDING, **fields) -> Task:
    fields.setdefault("source", TaskSource.API)
    return Task.objects.create(title=title, status=status, **fields)
