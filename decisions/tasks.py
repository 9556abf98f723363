"""Django-Q2 tasks: thin wrappers over the services (Django-Q2 owns their retries)."""

from .approvals import approval_execute, approval_expire_due
from .services import proactive_tick


def proactive_tick_task() -> str:
    return proactive_tick()


def approval_expire_task() -> int:
    return approval_expire_due()


def approval_execute_task(approval_id: int) -> str:
    approval = approval_execute(approval_id=approval_id)
    return f"approval {approval_id}: {approval.status if approval else 'not executed'}"
