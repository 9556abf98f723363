"""The Django-Q2 schedules that drive the agent; the project layer wires every app's tasks.

The tick runs every minute but starts a cycle only when the paced next-run time has come;
catch_up is off in Q_CLUSTER, so downtime never causes a burst of missed cycles. Django-Q2's
scheduler looks every ~30 s, so ticks come 30-90 s apart: a tick waits for a cycle due within
PROACTIVE_TICK_LOOKAHEAD_SECONDS, so it starts on time (decisions.services.proactive_tick).

The schedules exist whenever the database is migrated: `schedules_on_migrate` (a
`post_migrate` receiver, connected in AgentsiteConfig.ready) creates or repairs them, so
`migrate` + `qcluster` is a complete deployment; `manage.py setup_schedules` is the explicit
re-sync. The same receiver announces "Agent online" once per deployment: at most once per
ANNOUNCE_QUIET_MINUTES across every process (decided with the agent-state row locked)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django_q.models import Schedule

from agentsite.core.clock import utc_now
from agentsite.core.tasks import task_path
from decisions.master_schedules import master_schedule_default_ensure
from decisions.models import AgentState, MasterSchedule, Notification, NotificationKind, ScheduleSeed
from decisions.outbox import notification_enqueue

logger = logging.getLogger(__name__)

# Schedule name -> registered task name (agentsite.tasks).
SCHEDULES = {
    "agentsite: proactive tick": "decisions.proactive_tick",
    "agentsite: expire approvals": "decisions.approval_expire",
    "agentsite: deliver outbox": "telegrambot.outbox_deliver",
    "agentsite: retry Telegram updates": "telegrambot.updates_retry",
    "agentsite: free stale budget reservations": "budget.reservations_sweep",
    "agentsite: the Master's schedules": "decisions.master_schedules_run",
    "agentsite: consolidate memory": "decisions.memory_consolidate",
}
INTERVAL_MINUTES = 1
# Schedules that run less often than every minute (once a UTC day is decided by the task).
INTERVALS = {"agentsite: consolidate memory": 60}
# A restart (or another worker, or a second `migrate`) within this many minutes of the last
# "Agent online" message does not send another one.
ANNOUNCE_QUIET_MINUTES = 10
STARTUP_TEXT = "Agent online: the proactive loop is running. /status for details."

CREATED, UPDATED, UP_TO_DATE = "created", "updated", "up to date"


def _state_locked() -> AgentState:
    """The agent-state row, locked until the transaction ends (created if missing): what
    serializes schedule writes and announcements across processes on PostgreSQL."""
    AgentState.objects.get_or_create(pk=AgentState.SINGLETON_ID)
    return AgentState.objects.select_for_update().get(pk=AgentState.SINGLETON_ID)


@transaction.atomic
def _schedules_sync() -> list[tuple[str, str]]:
    # Serialized with other syncs through the agent-state row when it exists; never creates
    # it (reading the agent's state must find the same database before and after migrate).
    AgentState.objects.select_for_update().filter(pk=AgentState.SINGLETON_ID).first()
    results = []
    for name, task in SCHEDULES.items():
        fields = {"func": task_path(task), "schedule_type": Schedule.MINUTES,
                  "minutes": INTERVALS.get(name, INTERVAL_MINUTES), "repeats": -1}
        rows = list(Schedule.objects.filter(name=name).order_by("pk"))
        if not rows:
            Schedule.objects.create(name=name, **fields)
            results.append((name, CREATED))
            continue
        row, extra = rows[0], rows[1:]
        if extra:  # the name is not unique in Django-Q2; a duplicate would run the task twice
            Schedule.objects.filter(pk__in=[r.pk for r in extra]).delete()
        changed = [field for field, value in fields.items() if getattr(row, field) != value]
        for field in changed:
            setattr(row, field, fields[field])
        if changed:
            row.save(update_fields=changed)
        results.append((name, UPDATED if changed or extra else UP_TO_DATE))
    return results


@transaction.atomic
def startup_announce() -> bool:
    """Queue "Agent online" unless one was written in the last ANNOUNCE_QUIET_MINUTES.

    Checked and written with the agent-state row locked, so two workers (or two start-ups)
    at once announce once. Returns whether it queued the message."""
    _state_locked()
    now = utc_now()
    recent = Notification.objects.filter(
        kind=NotificationKind.STARTUP, created_at__gte=now - timedelta(minutes=ANNOUNCE_QUIET_MINUTES)
    )
    if recent.exists():
        return False
    notification_enqueue(kind=NotificationKind.STARTUP, text=STARTUP_TEXT, key=f"startup:{now.isoformat()}")
    return True


def schedules_ensure(*, announce: bool = False) -> list[tuple[str, str]]:
    """Create the agent's schedules or repair them (func, interval, repeats) in place;
    schedules of other names are left alone. Returns (name, created/updated/up to date)."""
    results = _schedules_sync()
    if announce:
        startup_announce()
    return results


def _tables_exist(using: str) -> bool:
    tables = set(connections[using].introspection.table_names())
    return {Schedule._meta.db_table, AgentState._meta.db_table, Notification._meta.db_table} <= tables


def _digest_tables_exist(using: str) -> bool:
    tables = set(connections[using].introspection.table_names())
    return {MasterSchedule._meta.db_table, ScheduleSeed._meta.db_table} <= tables


def schedules_on_migrate(sender, *, using=DEFAULT_DB_ALIAS, verbosity=1, plan=None, stdout=None, **kwargs):
    """post_migrate (sent for this app once per migrate/flush, after every migration ran).

    Skipped on other databases and while the tables are missing (e.g. `migrate django_q
    zero`). Announces only after a real `migrate` (not a test's flush) and only when a
    Master is configured: with nobody to tell, nothing could be sent anyway."""
    if using != DEFAULT_DB_ALIAS or not _tables_exist(using):
        return
    results = _schedules_sync()
    digest = master_schedule_default_ensure() if _digest_tables_exist(using) else None  # once ever
    announced = plan is not None and bool(settings.MASTER_CHAT_IDS) and startup_announce()
    if verbosity >= 1 and stdout is not None:
        changed = [f"{state}: {name}" for name, state in results if state != UP_TO_DATE]
        summary = "; ".join(changed) if changed else f"{len(results)} up to date"
        stdout.write(f"Agent schedules: {summary}." + (" Agent online queued." if announced else "")
                     + (f" Daily digest scheduled (#{digest.pk}, {digest.cron} UTC)." if digest else ""))
