"""Task and skill reads, each bounded so prompts and pages stay small as data grows."""

from django.db import router
from django.db.models import Count, F

from agentsite.core.compiled import rows_compiled

from .errors import SkillNotFound, TaskNotFound
from .models import CLOSED_STATUSES, OPEN_STATUSES, Skill, Task


def task_get(*, task_id: int) -> Task:
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise TaskNotFound(task_id=task_id)
    return task


def task_list(*, status: str | None = None, limit: int = 50) -> list[Task]:
    qs = Task.objects.all()
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("priority", "created_at", "id")[:limit])


def task_list_open(*, limit: int = 10) -> list[Task]:
    """Pending and running tasks, most urgent (then oldest) first.

    Written as "not closed" (the same rows: task_status_valid allows no other status) so the
    planner reads task_open_queue in order and stops at `limit`, instead of collecting every
    open task through the status index and sorting them."""
    return list(_open_tasks()[:limit])


def _open_tasks():
    return Task.objects.exclude(status__in=CLOSED_STATUSES).order_by("priority", "created_at", "id")


TASK_BRIEF_FIELDS = ("id", "title", "priority", "status", "description")


def task_list_open_brief(*, limit: int = 10) -> list[dict]:
    """`task_list_open`'s rows as dicts of TASK_BRIEF_FIELDS (the prompt's view of a task):
    the same SELECT of fewer columns, compiled once per connection and limit, no model
    instances built."""
    rows, _ = rows_compiled(("actions.task_list_open_brief", limit),
                            lambda: _open_tasks().values_list(*TASK_BRIEF_FIELDS)[:limit],
                            alias=router.db_for_read(Task))
    return [dict(zip(TASK_BRIEF_FIELDS, row, strict=True)) for row in rows]


def tasks_count_open() -> int:
    return Task.objects.filter(status__in=OPEN_STATUSES).count()


def skill_list(*, limit: int = 10) -> list[Skill]:
    """Most recently practised first; never-practised skills last."""
    return list(
        Skill.objects.order_by(F("last_practised_at").desc(nulls_last=True), "name", "id")[:limit]
    )


# The API's pages: unbounded but lazy querysets in a stable order; the caller filters and pages.


def task_browse():
    """Every task, most urgent (then oldest) first."""
    return Task.objects.order_by("priority", "created_at", "id")


def skill_browse():
    """Every skill, by name."""
    return Skill.objects.order_by("name", "id")


def skill_get(*, skill_id: int) -> Skill:
    skill = Skill.objects.filter(pk=skill_id).first()
    if skill is None:
        raise SkillNotFound(skill_id=skill_id)
    return skill


def tasks_finished_since(*, since, limit: int = 5) -> tuple[dict[str, int], list[Task]]:
    """Tasks finished (done, failed) since `since`: counts by status and the latest done ones."""
    finished = Task.objects.filter(finished_at__gte=since, status__in=("done", "failed"))
    counts = {row["status"]: row["n"] for row in finished.values("status").annotate(n=Count("id")).order_by()}
    latest = list(finished.filter(status="done").order_by("-finished_at", "-id")[:limit])
    return counts, latest
