from budget.errors import ApplicationError


class ApprovalNotFound(ApplicationError):
    kind = "not_found"


class ApprovalNotPending(ApplicationError):
    """Decided, expired or executed already: it can't be decided again (HTTP 409)."""

    kind = "conflict"


class ApprovalWrongKind(ApplicationError):
    kind = "invalid"
