"""Django-Q2 tasks: thin wrappers over the services (Django-Q2 owns their retries)."""

from .approvals import approval_expire_due
from .consolidation import consolidation_run
from .execution import approval_execute, approval_execute_stranded
from .master_schedules import master_schedules_run_due
from .reminders import approval_remind_due
from .services import cycle_run, proactive_tick


def proactive_tick_task() -> str:
    return proactive_tick()


def approval_expire_task() -> dict:
    """The approvals sweep: expire overdue ones, remind the Master of those near expiry,
    execute approved ones left behind."""
    return {"expired": approval_expire_due(), "reminded": approval_remind_due(),
            "executed": approval_execute_stranded()}


def approval_execute_task(approval_id: int) -> str:
    approval = approval_execute(approval_id=approval_id)
    return f"approval {approval_id}: {approval.status if approval else 'not executed'}"


def run_cycle_now_task() -> str:
    """A cycle requested by the Master (API/admin): ignores the schedule, not pause/lock/budget."""
    run = cycle_run(trigger="api")
    return f"cycle {run.cycle.pk} {run.cycle.status}"


def master_schedules_run_task() -> str:
    """The Master's own schedules: run the due ones (each once, however many workers)."""
    return f"{master_schedules_run_due()} schedule(s) ran"
def memory_consolidate_task() -> str:
    """Hourly: fold old memory into a digest once per UTC day (decisions.consolidation)."""
    cycle = consolidation_run()
    return "nothing to consolidate" if cycle is None else f"cycle {cycle.pk} {cycle.status}"
