"""Errors the task and skill services raise; every surface maps them to a clear answer."""

from agentsite.core.errors import ApplicationError, Conflict, NotFound


class TaskNotFound(NotFound):
    def __init__(self, *, task_id: int) -> None:
        super().__init__(f"Task #{task_id} does not exist", extra={"task_id": task_id})


class TaskInvalid(ApplicationError):
    kind = "invalid"


class TaskStateError(Conflict):
    """The task exists but its status does not allow the change."""

    def __init__(self, message: str, *, task_id: int, status: str) -> None:
        super().__init__(message, extra={"task_id": task_id, "status": status})
        self.status = status


class TaskNotRunnable(TaskStateError):
    kind = "not_runnable"  # its own code in the body; still a 409 (a Conflict)


class TaskNotCancellable(TaskStateError):
    pass


class SkillInvalid(ApplicationError):
    kind = "invalid"


class SkillNotFound(NotFound):
    def __init__(self, *, skill_id: int) -> None:
        super().__init__(f"Skill #{skill_id} does not exist")
