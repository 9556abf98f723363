"""The project's application errors, with their HTTP meaning declared once.

`ApplicationError` is the one exception type the surfaces (API, Telegram, commands) map to
a clear answer; each subclass says what it means over HTTP (`http_status`), so no surface
keeps its own list of kinds. Messages are written by the raiser, never copied from a
response body, so no credential can ride along in one.
"""


class ApplicationError(Exception):
    """A failure with a message fit to show the Master."""

    kind = "error"
    http_status = 400

    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFound(ApplicationError):
    """The thing asked for does not exist: the one "not found" of every surface."""

    kind = "not_found"
    http_status = 404


class Conflict(ApplicationError):
    """The thing exists but its state forbids the change (already decided, not runnable)."""

    kind = "conflict"
    http_status = 409
