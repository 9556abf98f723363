"""Task and skill writes. Each status change decides under a row lock on the task, so
two surfaces (a cycle and the Master, say) can never both move the same task."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import Truncator

from agentsite.core.deadlines import longest_call
from memory.models import MemoryKind
from memory.services import memory_record

from .errors import SkillInvalid, TaskInvalid, TaskNotCancellable, TaskNotFound, TaskNotRunnable, TaskStateError
from .models import (
    OPEN_STATUSES,
    PRIORITY_DEFAULT,
    PRIORITY_LEAST_URGENT,
    PRIORITY_MOST_URGENT,
    SKILL_NAME_MAX_CHARS,
    TITLE_MAX_CHARS,
    Skill,
    Task,
    TaskSource,
    TaskStatus,
    skill_key,
)

SKILL_NOTES_MAX_CHARS = 10_000
MEMORY_EXCERPT_CHARS = 1_500


def _resume_after() -> timedelta:
    """How long a running task must be quiet before it counts as abandoned."""
    return longest_call() * 2 + timedelta(minutes=2)


def _task_locked(*, task_id: int) -> Task:
    task = Task.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise TaskNotFound(task_id=task_id)
    return task


def _task_locked_in(
    *, task_id: int, statuses: tuple[str, ...], refusal: str, error: type[TaskStateError] = TaskNotRunnable
) -> Task:
    """The task, locked, if its status is one of `statuses`; else `error`, which names its
    status followed by `refusal` (what is allowed instead)."""
    task = _task_locked(task_id=task_id)
    if task.status not in statuses:
        raise error(f"Task #{task.pk} is {task.status}; {refusal}", task_id=task.pk, status=task.status)
    return task


def _task_save(task: Task, **changes) -> Task:
    """Set `changes` on the task and save just those fields."""
    for field, value in changes.items():
        setattr(task, field, value)
    task.save(update_fields=[*changes, "updated_at"])
    return task


def _title_clean(title: str) -> str:
    """A task title on one line, spaces collapsed; TaskInvalid if empty or too long."""
    title = " ".join((title or "").split())
    if not title:
        raise TaskInvalid("A task needs a title")
    if len(title) > TITLE_MAX_CHARS:
        raise TaskInvalid(f"A task title can be at most {TITLE_MAX_CHARS} characters, got {len(title)}")
    return title


@transaction.atomic
def task_create(
    *, title: str, description: str = "", priority: int = PRIORITY_DEFAULT, source: str
) -> Task:
    title = _title_clean(title)
    if isinstance(priority, bool) or not isinstance(priority, int) or not (
        PRIORITY_MOST_URGENT <= priority <= PRIORITY_LEAST_URGENT
    ):
        raise TaskInvalid(
            f"Priority must be a whole number from {PRIORITY_MOST_URGENT} (most urgent) "
            f"to {PRIORITY_LEAST_URGENT}, got {priority!r}"
        )
    if source not in TaskSource.values:
        raise TaskInvalid(f"Unknown task source {source!r}")
    return Task.objects.create(
        title=title, description=(description or "").strip(), priority=priority, source=source
    )


@transaction.atomic
def task_start(*, task_id: int) -> Task:
    """pending → running. A task still running is resumed only once whoever started it
    must have died (two model calls' time has passed), so work is never done twice."""
    task = _task_locked_in(
        task_id=task_id, statuses=OPEN_STATUSES, refusal="only pending or running tasks can be worked on"
    )
    if task.status == TaskStatus.RUNNING and task.started_at and task.started_at > timezone.now() - _resume_after():
        raise TaskNotRunnable(
            f"Task #{task.pk} is being worked on right now", task_id=task.pk, status=task.status
        )
    return _task_save(task, status=TaskStatus.RUNNING, started_at=task.started_at or timezone.now())


@transaction.atomic
def task_complete(*, task_id: int, result: str, cycle_id: int | None = None) -> Task:
    """running → done, keeping the deliverable, with a `task_result` memory of it."""
    task = _task_locked_in(
        task_id=task_id, statuses=(TaskStatus.RUNNING,), refusal="only a running task can be completed"
    )
    _task_save(task, status=TaskStatus.DONE, result=result, error="", finished_at=timezone.now())
    _task_remember(task=task, outcome=result, cycle_id=cycle_id)
    return task


@transaction.atomic
def task_requeue(*, task_id: int) -> Task:
    """running → pending, when the work could not even start (e.g. no budget left today)."""
    task = _task_locked_in(
        task_id=task_id, statuses=(TaskStatus.RUNNING,), refusal="only a running task can be put back in the queue"
    )
    return _task_save(task, status=TaskStatus.PENDING)


@transaction.atomic
def task_fail(*, task_id: int, error: str, cycle_id: int | None = None) -> Task:
    """pending|running → failed, with a `task_result` memory of why."""
    task = _task_locked_in(task_id=task_id, statuses=OPEN_STATUSES, refusal="only an open task can fail")
    _task_save(task, status=TaskStatus.FAILED, error=error, finished_at=timezone.now())
    _task_remember(task=task, outcome=error, cycle_id=cycle_id)
    return task


@transaction.atomic
def task_cancel(*, task_id: int) -> Task:
    """pending → cancelled. Work already started is left to finish or fail."""
    task = _task_locked_in(
        task_id=task_id, statuses=(TaskStatus.PENDING,), refusal="only pending tasks can be cancelled",
        error=TaskNotCancellable,
    )
    return _task_save(task, status=TaskStatus.CANCELLED, finished_at=timezone.now())


def _task_remember(*, task: Task, outcome: str, cycle_id: int | None) -> None:
    excerpt = Truncator(outcome or "").chars(MEMORY_EXCERPT_CHARS)
    memory_record(
        kind=MemoryKind.TASK_RESULT,
        content=f"Task #{task.pk} {task.title!r} {task.status}: {excerpt}",
        meta={"task_id": task.pk, "status": task.status},
        cycle_id=cycle_id,
    )


@transaction.atomic
def skill_practise(*, name: str, note: str, cycle_id: int | None = None) -> Skill:
    """Count one practice of a skill (created on first use), keep its note on the skill
    and as a `skill_note` memory, all or nothing."""
    key = skill_key(name or "")
    if not key:
        raise SkillInvalid("A skill needs a name")
    if len(" ".join(name.split())) > SKILL_NAME_MAX_CHARS:
        raise SkillInvalid(f"A skill name can be at most {SKILL_NAME_MAX_CHARS} characters")
    note = (note or "").strip()
    if not note:
        raise SkillInvalid("A practice needs a note")
    Skill.objects.get_or_create(key=key, defaults={"name": name})
    skill = Skill.objects.select_for_update().get(key=key)
    now = timezone.now()
    skill.practice_count += 1
    skill.last_practised_at = now
    skill.notes = _notes_append(notes=skill.notes, entry=f"## {now:%Y-%m-%d %H:%M} UTC\n{note}")
    skill.save(update_fields=["practice_count", "last_practised_at", "notes", "updated_at"])
    memory_record(
        kind=MemoryKind.SKILL_NOTE,
        content=f"{skill.name} (practice #{skill.practice_count}): {note}",
        meta={"skill_id": skill.pk, "skill": skill.name, "practice_count": skill.practice_count},
        cycle_id=cycle_id,
    )
    return skill


def _notes_append(*, notes: str, entry: str) -> str:
    """Newest notes win: drop whole old entries (then characters) past the cap."""
    combined = f"{notes}\n\n{entry}" if notes else entry
    if len(combined) <= SKILL_NOTES_MAX_CHARS:
        return combined
    kept = combined[-SKILL_NOTES_MAX_CHARS:]
    boundary = kept.find("\n\n## ")
    return kept[boundary + 2 :] if boundary != -1 else kept


@transaction.atomic
def task_update(
    *, task_id: int, title: str | None = None, description: str | None = None, priority: int | None = None
) -> Task:
    """Edit a pending task's title, description or priority (a started one is left alone)."""
    task = _task_locked_in(
        task_id=task_id, statuses=(TaskStatus.PENDING,), refusal="only pending tasks can be edited",
        error=TaskStateError,
    )
    changes = {}
    if title is not None:
        changes["title"] = _title_clean(title)
    if description is not None:
        changes["description"] = description.strip()
    if priority is not None:
        changes["priority"] = priority
    return _task_save(task, **changes) if changes else task
