"""The Master's own schedules: recurring work in UTC cron, each run queuing a Task or
sending a digest through the outbox.

`master_schedules_run_due` (the every-minute Django-Q2 task) claims each due schedule with
its row locked (skip_locked on PostgreSQL), so two workers run it once; the run and the
move of `next_run_at` to the next cron time AFTER NOW commit together, so a worker down for
hours runs a missed schedule once, not once per missed time. A digest is enqueued with the
key `schedule:<id>:<due>`, so even a repeated run sends it once.

The daily digest exists by default: `master_schedule_default_ensure` (run on every migrate)
creates it once at DAILY_DIGEST_HOUR (UTC; -1 creates none) and records that it did
(ScheduleSeed), so a digest the Master disabled or deleted stays so."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from actions.models import TITLE_MAX_CHARS, TaskSource
from actions.services import task_create
from agentsite.core.clock import utc_now
from agentsite.core.redaction import redact_short

from .digest import digest_text
from .errors import ScheduleInvalid, ScheduleNotFound
from .models import MasterSchedule, NotificationKind, ScheduleKind, ScheduleSeed, Surface
from .outbox import notification_enqueue
from .schedule_cron import cron_clean, cron_next

logger = logging.getLogger(__name__)

TEXT_MAX_CHARS = 2000
DEFAULT_DIGEST_KEY = "daily_digest"
DEFAULT_DIGEST_TEXT = "Daily digest"
RUN_BATCH = 50
# Who a scheduled task comes from: the surface the Master created the schedule on.
_TASK_SOURCE = {Surface.ADMIN: TaskSource.ADMIN, Surface.API: TaskSource.API, Surface.TELEGRAM: TaskSource.TELEGRAM,
                Surface.CLI: TaskSource.CLI}


def _text_clean(text: str, *, kind: str) -> str:
    text = (text or "").strip()
    if kind not in ScheduleKind.values:
        raise ScheduleInvalid(f"A schedule's kind is one of {', '.join(ScheduleKind.values)}, not {kind!r}")
    if kind == ScheduleKind.TASK and not text:
        raise ScheduleInvalid("A task schedule needs a text: what the agent should do")
    if len(text) > TEXT_MAX_CHARS:
        raise ScheduleInvalid(f"A schedule's text can be at most {TEXT_MAX_CHARS} characters, got {len(text)}")
    return text


def master_schedule_validate(*, cron: str, text: str, kind: str) -> tuple[str, str]:
    """The cron and text a schedule would be stored with; ScheduleInvalid saying what is wrong.
    (The services call it; the admin's form too, to show the error beside the field.)"""
    return cron_clean(cron), _text_clean(text, kind=kind)


def _schedule_locked(*, schedule_id: int) -> MasterSchedule:
    schedule = MasterSchedule.objects.select_for_update().filter(pk=schedule_id).first()
    if schedule is None:
        raise ScheduleNotFound(schedule_id=schedule_id)
    return schedule


@transaction.atomic
def master_schedule_create(
    *, cron: str, text: str, kind: str = ScheduleKind.TASK, by: str, via: str, enabled: bool = True
) -> MasterSchedule:
    """A new schedule; `cron` is a 5-field cron or words ("weekday 08:00"), see schedule_cron."""
    cron, text = master_schedule_validate(cron=cron, text=text, kind=kind)
    return MasterSchedule.objects.create(
        cron=cron, text=text, kind=kind, enabled=enabled, created_by=(by or "")[:150], created_via=via,
        next_run_at=cron_next(cron, after=utc_now()) if enabled else None,
    )


@transaction.atomic
def master_schedule_update(
    *, schedule_id: int, cron: str | None = None, text: str | None = None, kind: str | None = None,
    enabled: bool | None = None,
) -> MasterSchedule:
    """Change a schedule; its next run is recomputed from now when its time or state changes."""
    schedule = _schedule_locked(schedule_id=schedule_id)
    new_cron = cron_clean(cron) if cron is not None else schedule.cron
    new_kind = kind if kind is not None else schedule.kind
    new_text = _text_clean(text if text is not None else schedule.text, kind=new_kind)
    new_enabled = schedule.enabled if enabled is None else enabled
    if new_cron != schedule.cron or new_enabled != schedule.enabled:
        schedule.next_run_at = cron_next(new_cron, after=utc_now()) if new_enabled else None
    schedule.cron, schedule.kind, schedule.text, schedule.enabled = new_cron, new_kind, new_text, new_enabled
    schedule.save()
    return schedule


def master_schedule_disable(*, schedule_id: int) -> MasterSchedule:
    return master_schedule_update(schedule_id=schedule_id, enabled=False)


def master_schedule_enable(*, schedule_id: int) -> MasterSchedule:
    return master_schedule_update(schedule_id=schedule_id, enabled=True)


@transaction.atomic
def master_schedule_delete(*, schedule_id: int) -> None:
    _schedule_locked(schedule_id=schedule_id).delete()


def master_schedule_list():
    """Every schedule, oldest first (a lazy queryset: the API pages it)."""
    return MasterSchedule.objects.order_by("id")


def master_schedule_get(*, schedule_id: int) -> MasterSchedule:
    schedule = MasterSchedule.objects.filter(pk=schedule_id).first()
    if schedule is None:
        raise ScheduleNotFound(schedule_id=schedule_id)
    return schedule


# --- running --------------------------------------------------------------------------------


def master_schedules_run_due(*, now: datetime | None = None) -> int:
    """Run every enabled schedule whose next run has come; returns how many ran here."""
    now = now or utc_now()
    due = list(
        MasterSchedule.objects.filter(enabled=True, next_run_at__lte=now)
        .order_by("next_run_at", "id").values_list("pk", flat=True)[:RUN_BATCH]
    )
    ran = 0
    for schedule_id in due:
        try:
            ran += _run_one(schedule_id=schedule_id, now=now)
        except Exception as exc:  # one broken schedule must not stop the others
            logger.exception("Schedule #%s failed", schedule_id)
            _run_failed(schedule_id=schedule_id, now=now, error=exc)
    return ran


@transaction.atomic
def _run_one(*, schedule_id: int, now: datetime) -> bool:
    """Claim the schedule (locked; another worker's claim is skipped), run it, move it on."""
    rows = MasterSchedule.objects.filter(pk=schedule_id, enabled=True, next_run_at__lte=now)
    schedule = rows.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked).first()
    if schedule is None:  # run by another worker meanwhile, or disabled
        return False
    due = schedule.next_run_at
    if schedule.kind == ScheduleKind.DIGEST:
        text = digest_text(since=schedule.last_run_at, now=now, heading=schedule.text)
        notification_enqueue(kind=NotificationKind.DIGEST, text=text, key=f"schedule:{schedule.pk}:{due.isoformat()}")
    else:
        _task_queue(schedule=schedule, due=due)
    schedule.last_run_at, schedule.next_run_at = now, cron_next(schedule.cron, after=now)
    schedule.runs += 1
    schedule.last_error = ""
    schedule.save(update_fields=["last_run_at", "next_run_at", "runs", "last_error", "updated_at"])
    return True


def _task_queue(*, schedule: MasterSchedule, due: datetime) -> None:
    first, _, rest = schedule.text.partition("\n")
    title = " ".join(first.split())
    description = rest.strip()
    if len(title) > TITLE_MAX_CHARS:  # every word kept: the full text becomes the description
        title, description = title[: TITLE_MAX_CHARS - 1] + "…", schedule.text
    origin = f"(From the Master's schedule #{schedule.pk}, `{schedule.cron}` UTC, due {due:%Y-%m-%d %H:%M} UTC.)"
    task_create(
        title=title, description=f"{description}\n\n{origin}".strip(),
        source=_TASK_SOURCE.get(schedule.created_via, TaskSource.AGENT),
    )


@transaction.atomic
def _run_failed(*, schedule_id: int, now: datetime, error: Exception) -> None:
    """A run that raised: recorded on the schedule and moved to its next time (not retried
    every minute)."""
    schedule = MasterSchedule.objects.select_for_update().filter(pk=schedule_id).first()
    if schedule is None:
        return
    schedule.last_error = redact_short(f"{type(error).__name__}: {error}", limit=500)
    try:
        schedule.next_run_at = cron_next(schedule.cron, after=now)
    except ScheduleInvalid:
        schedule.enabled, schedule.next_run_at = False, None
    schedule.save(update_fields=["last_error", "next_run_at", "enabled", "updated_at"])


# --- the default daily digest ----------------------------------------------------------------


@transaction.atomic
def master_schedule_default_ensure() -> MasterSchedule | None:
    """Create the daily digest at DAILY_DIGEST_HOUR once ever (None: already done, or -1)."""
    hour = settings.DAILY_DIGEST_HOUR
    if hour < 0:
        return None
    _, created = ScheduleSeed.objects.get_or_create(key=DEFAULT_DIGEST_KEY)
    if not created:
        return None
    return master_schedule_create(
        cron=f"0 {hour} * * *", text=DEFAULT_DIGEST_TEXT, kind=ScheduleKind.DIGEST, by="system", via=Surface.SYSTEM
    )

