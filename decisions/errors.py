"""Approval and outbox errors; each says its HTTP meaning by its base (NotFound 404, Conflict 409)."""

from agentsite.core.errors import ApplicationError, Conflict, NotFound


class ApprovalNotFound(NotFound):
    pass


class ApprovalNotPending(Conflict):
    """Decided, expired or executed already: it can't be decided again."""


class ApprovalWrongKind(ApplicationError):
    kind = "invalid"


class NotificationNotFound(NotFound):
    def __init__(self, *, notification_id: int) -> None:
        super().__init__(
            f"Notification #{notification_id} does not exist", extra={"notification_id": notification_id}
        )


class NotificationNotRetryable(Conflict):
    def __init__(self, message: str, *, notification_id: int, status: str) -> None:
        super().__init__(message, extra={"notification_id": notification_id, "status": status})


class QueueUnavailable(ApplicationError):
    """The task broker can't take work right now."""

    kind = "unavailable"
    http_status = 503


class CycleNotFound(NotFound):
    def __init__(self, *, cycle_id: int) -> None:
        super().__init__(f"Cycle #{cycle_id} does not exist")


class ScheduleInvalid(ApplicationError):
    """A Master's schedule with a bad time (cron or words), kind or text."""

    kind = "invalid"


class ScheduleNotFound(NotFound):
    def __init__(self, *, schedule_id: int) -> None:
        super().__init__(f"Schedule #{schedule_id} does not exist", extra={"schedule_id": schedule_id})


class ApprovalEditInvalid(ApplicationError):
    """The Master's edit of a decision's details does not pass the action's schema (400);
    `extra["field"]` names the first field at fault."""

    kind = "invalid"
