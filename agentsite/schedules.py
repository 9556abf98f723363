"""The Django-Q2 schedules that drive the agent; the project layer wires every app's tasks.

The tick runs every minute but starts a cycle only when the paced next-run time has come;
catch_up is off in Q_CLUSTER, so downtime never causes a burst of missed cycles."""

from django_q.models import Schedule

from budget.clock import utc_now
from decisions.models import NotificationKind
from decisions.outbox import notification_enqueue

SCHEDULES = {
    "agentsite: proactive tick": "decisions.tasks.proactive_tick_task",
    "agentsite: expire approvals": "decisions.tasks.approval_expire_task",
    "agentsite: deliver outbox": "telegrambot.tasks.outbox_deliver_task",
    "agentsite: retry Telegram updates": "telegrambot.tasks.updates_retry_task",
    "agentsite: free stale budget reservations": "budget.tasks.reservations_sweep_task",
}


def schedules_ensure(*, announce: bool = False) -> list[tuple[str, bool]]:
    results = []
    for name, func in SCHEDULES.items():
        _, created = Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
        )
        results.append((name, created))
    if announce:
        now = utc_now()
        notification_enqueue(
            kind=NotificationKind.STARTUP,
            text="Agent online: the proactive loop is running. /status for details.",
            key=f"startup:{now.isoformat()}",
        )
    return results
