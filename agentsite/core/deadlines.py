"""Call deadlines: how long one model call may take, and so how long anything that covers a
call (a reservation, a cycle lock, a task lock) must hold."""

from datetime import timedelta

from django.conf import settings


def longest_call() -> timedelta:
    """The longest one model call can take: its hard deadline. `budget.client` enforces it
    over every attempt, backoff, retry-after wait and body read together."""
    return timedelta(seconds=settings.AGENT_LLM_DEADLINE_SECONDS)
