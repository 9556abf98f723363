"""Errors the task and skill services raise; every surface maps them to a clear answer."""

from agentsite.core.errors import ApplicationError


class TaskNotFound(ApplicationError):
    kind = "not_found"

    def __init__(self, *, task_id: int) -> None:
        super().__init__(f"Task #{task_id} does not exist", extra={"task_id": task_id})


class TaskInvalid(ApplicationError):
    kind = "invalid"


class TaskStateError(ApplicationError):
    """The task exists but its status does not allow the change (HTTP 409 material)."""

    kind = "conflict"

    def __init__(self, message: str, *, task_id: int, status: str) -> None:
        super().__init__(message, extra={"task_id": task_id, "status": status})
        self.status = status


class TaskNotRunnable(TaskStateError):
    kind = "not_runnable"


class TaskNotCancellable(TaskStateError):
    pass


class SkillInvalid(ApplicationError):
    kind = "invalid"
