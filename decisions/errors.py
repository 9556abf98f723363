from agentsite.core.errors import ApplicationError


class ApprovalNotFound(ApplicationError):
    kind = "not_found"


class ApprovalNotPending(ApplicationError):
    """Decided, expired or executed already: it can't be decided again (HTTP 409)."""

    kind = "conflict"


class ApprovalWrongKind(ApplicationError):
    kind = "invalid"


class NotificationNotFound(ApplicationError):
    kind = "not_found"

    def __init__(self, *, notification_id: int) -> None:
        super().__init__(
            f"Notification #{notification_id} does not exist", extra={"notification_id": notification_id}
        )


class NotificationNotRetryable(ApplicationError):
    kind = "conflict"

    def __init__(self, message: str, *, notification_id: int, status: str) -> None:
        super().__init__(message, extra={"notification_id": notification_id, "status": status})


class QueueUnavailable(ApplicationError):
    """The task broker can't take work right now (HTTP 503)."""

    kind = "unavailable"
