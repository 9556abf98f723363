"""work_on_task: one model call turns a task into its deliverable; the task records how it went."""

from dataclasses import replace

from django.utils.text import Truncator

from budget.client import claude_complete
from agentsite.core.errors import ApplicationError
from budget.errors import BudgetExceeded
from budget.models import Scope

from ..errors import TaskNotFound, TaskNotRunnable
from ..registry import ActionContext, ActionResult, effects_after_failed_call, register
from ..schemas import WorkOnTaskDetails
from ..services import task_complete, task_fail, task_requeue, task_start

MAX_DELIVERABLE_TOKENS = 1_500
DELIVERABLE_EXCERPT_CHARS = 1_000
SYSTEM = (
    "You carry out one task for an autonomous agent working on behalf of a person it calls "
    "its Master. Produce the deliverable itself, finished and ready to use, not a plan or a "
    "description of what you would do. Follow the stated approach. Where something is "
    "uncertain, make a sensible assumption and say so in one line at the end."
)


def _request(*, title: str, description: str, approach: str) -> str:
    return (
        f"Task: {title}\n"
        f"Description: {description or '(none)'}\n"
        f"Approach: {approach or 'your choice'}\n"
        "Write the deliverable."
    )


@register("work_on_task")
def work_on_task(details: WorkOnTaskDetails, context: ActionContext) -> ActionResult:
    task_id = details.task_id
    try:
        task = task_start(task_id=task_id)
    except TaskNotFound as exc:
        return ActionResult(
            status="not_found",
            data={"task_id": task_id, "error": exc.message, "summary": f"task #{task_id} does not exist"},
        )
    except TaskNotRunnable as exc:
        return ActionResult(
            status="not_runnable",
            data={"task_id": task_id, "task_status": exc.status, "error": exc.message,
                  "summary": f"task #{task_id} is {exc.status}, nothing to do"},
        )

    try:
        reply = claude_complete(
            system=SYSTEM,
            messages=[{"role": "user", "content": _request(
                title=task.title, description=task.description, approach=details.approach)}],
            scope=Scope.PROACTIVE,
            meta={"cycle_id": context.cycle_id, "action": "work_on_task", "task_id": task_id},
            max_tokens=MAX_DELIVERABLE_TOKENS,
        )
        deliverable = reply.text.strip()
        if not deliverable:
            raise ApplicationError("The model returned an empty deliverable")
    except BudgetExceeded as exc:
        # Nothing was attempted: the task goes back to the queue for another day.
        task = task_requeue(task_id=task_id)
        return ActionResult(
            status="deferred",
            data={"task_id": task_id, "task_status": task.status, "error": exc.message,
                  "summary": f"task #{task_id} put back in the queue: no budget left"},
        )
    except ApplicationError as exc:
        return replace(_settle(task_id, context, error=exc.message), effects=effects_after_failed_call(exc))
    return _settle(task_id, context, deliverable=deliverable)


def _settle(task_id: int, context: ActionContext, *, deliverable: str = "", error: str = "") -> ActionResult:
    """Record the outcome, unless someone closed the task while the model was working."""
    try:
        if error:
            task = task_fail(task_id=task_id, error=error, cycle_id=context.cycle_id)
        else:
            task = task_complete(task_id=task_id, result=deliverable, cycle_id=context.cycle_id)
    except TaskNotRunnable as exc:
        return ActionResult(
            status="not_runnable",
            data={"task_id": task_id, "task_status": exc.status, "error": exc.message,
                  "summary": f"task #{task_id} became {exc.status} while it was being worked on"},
        )
    if error:
        return ActionResult(
            status="failed",
            data={"task_id": task_id, "task_status": task.status, "error": error,
                  "summary": f"task #{task_id} {task.title!r} failed: {error}"},
        )
    return ActionResult(
        status="ok",
        data={
            "task_id": task_id,
            "task_status": task.status,
            "deliverable": Truncator(deliverable).chars(DELIVERABLE_EXCERPT_CHARS),
            "summary": f"finished task #{task_id} {task.title!r}",
        },
    )
