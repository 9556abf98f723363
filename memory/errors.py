"""Memory's errors, each fit to show the Master on any surface."""

from agentsite.core.errors import ApplicationError, Conflict, NotFound


class MemoryNotFound(NotFound):
    def __init__(self, entry_id) -> None:
        super().__init__(f"Memory entry #{entry_id} not found")


class MemoryContentInvalid(ApplicationError):
    kind = "invalid_content"


class MemoryStateConflict(Conflict):
    pass
