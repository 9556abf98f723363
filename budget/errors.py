"""The budget's errors: ApplicationErrors (agentsite.core.errors) about tokens and the
Claude API. Messages are written here, never copied from a response body, so no
credential can ride along in one.
"""

from agentsite.core.errors import ApplicationError


class BudgetExceeded(ApplicationError):
    """Today's proactive budget can't cover the call (ApplicationError's 400)."""

    kind = "budget_exceeded"


class ClaudeNotConfigured(ApplicationError):
    kind = "not_configured"

    def __init__(self) -> None:
        super().__init__(
            "Claude credentials are not configured: set ANTHROPIC_API_KEY or "
            "CLAUDE_CODE_OAUTH_TOKEN"
        )


class ClaudeCallError(ApplicationError):
    """A model call that failed: refused, unanswered within its deadline, or answered
    with a reply that can't be read.

    `retry_after_seconds` is the wait the API asked for (its `retry-after`), or None when
    it named none, so the caller can pace its next call past it.
    """

    def __init__(
        self, *, kind: str, status_code: int | None = None, retry_after_seconds: float | None = None
    ) -> None:
        status = f", HTTP {status_code}" if status_code else ""
        super().__init__(f"Claude API call failed ({kind}{status})")
        self.kind = kind
        self.status_code = status_code
        self.retry_after_seconds = retry_after_seconds
