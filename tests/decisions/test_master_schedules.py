"""The Master's own schedules: cron validated, due runs once (however many workers or
missed times), disabled ones wait, a broken one is recorded and the others run."""

from datetime import UTC, datetime

import pytest
import time_machine

from actions.models import Task, TaskSource
from decisions.errors import ScheduleInvalid, ScheduleNotFound
from decisions.master_schedules import (
    master_schedule_create,
    master_schedule_delete,
    master_schedule_disable,
    master_schedule_enable,
    master_schedule_update,
    master_schedules_run_due,
)
from decisions.models import MasterSchedule, Notification, NotificationKind, ScheduleKind, Surface
from decisions.schedule_cron import cron_clean
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db

MONDAY_0700 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def _no_default_digest():
    """Every test database has the default daily digest (created on migrate): start without it."""
    MasterSchedule.objects.all().delete()


def create(cron: str = "0 8 * * 1-5", text: str = "Summarize yesterday and list what needs me", **kwargs):
    kwargs.setdefault("by", "master")
    kwargs.setdefault("via", Surface.API)
    return master_schedule_create(cron=cron, text=text, **kwargs)


# --- the time: cron or words ------------------------------------------------------------------


@pytest.mark.parametrize(("when", "cron"), [
    ("0 8 * * 1-5", "0 8 * * 1-5"),
    ("  30  9 * *   MON ", "30 9 * * mon"),
    ("weekday 08:00", "0 8 * * 1-5"),
    ("every weekday at 8:05", "5 8 * * 1-5"),
    ("day 08:00", "0 8 * * *"),
    ("Daily 23:59", "59 23 * * *"),
    ("monday 09:30", "30 9 * * 1"),
    ("sun 07:00", "0 7 * * 0"),
    ("weekend 10:00", "0 10 * * 0,6"),
    ("hour", "0 * * * *"),
    ("hourly", "0 * * * *"),
])
def test_a_cron_or_a_few_words_give_the_cron(when, cron):
    assert cron_clean(when) == cron


@pytest.mark.parametrize(("when", "says"), [
    ("", "needs a time"),
    ("0 8 * *", "Not a schedule time"),  # four fields
    ("0 0 8 * * 1-5", "Not a schedule time"),  # six: seconds are not a thing here
    ("61 * * * *", "Not a schedule time"),
    ("@daily", "Not a schedule time"),
    ("fortnight 08:00", "Not a schedule time"),
    ("day 24:00", "is not a time of day"),
    ("0 0 31 2 *", "never runs"),
    ("*" * 101, "at most 100 characters"),
])
def test_a_bad_time_is_refused_clearly(when, says):
    with pytest.raises(ScheduleInvalid, match=says):
        create(cron=when)
    assert not MasterSchedule.objects.exists()


def test_a_task_schedule_needs_a_text_and_a_known_kind():
    with pytest.raises(ScheduleInvalid, match="needs a text"):
        create(text="   ")
    with pytest.raises(ScheduleInvalid, match="kind is one of task, digest"):
        create(kind="poem")
    with pytest.raises(ScheduleInvalid, match="at most 2000"):
        create(text="x" * 2001)
    assert not MasterSchedule.objects.exists()


@time_machine.travel(MONDAY_0700, tick=False)
def test_created_its_next_run_is_the_next_cron_time():
    schedule = create(cron="weekday 08:00", by="ann", via=Surface.TELEGRAM)
    assert schedule.next_run_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert (schedule.cron, schedule.kind, schedule.created_by, schedule.created_via) == (
        "0 8 * * 1-5", ScheduleKind.TASK, "ann", Surface.TELEGRAM)


# --- running ----------------------------------------------------------------------------------


def test_a_due_schedule_queues_a_task_once_and_moves_on():
    with time_machine.travel(MONDAY_0700, tick=False):
        schedule = create(text="Summarize yesterday\nand list what needs me")
    with time_machine.travel(datetime(2026, 11, 30, 8, 0, 20, tzinfo=UTC), tick=False):
        assert master_schedules_run_due() == 1
        assert master_schedules_run_due() == 0
    task = Task.objects.get()
    assert task.title == "Summarize yesterday"
    assert task.description.startswith("and list what needs me")
    assert f"schedule #{schedule.pk}" in task.description and task.source == TaskSource.API
    schedule.refresh_from_db()
    assert schedule.runs == 1 and schedule.last_run_at == datetime(2026, 11, 30, 8, 0, 20, tzinfo=UTC)
    assert schedule.next_run_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_nothing_runs_before_its_time():
    with time_machine.travel(MONDAY_0700, tick=False):
        create()
        assert master_schedules_run_due() == 0
    assert not Task.objects.exists()


def test_a_disabled_schedule_does_not_run_and_enabling_starts_from_now():
    with time_machine.travel(MONDAY_0700, tick=False):
        schedule = create()
        master_schedule_disable(schedule_id=schedule.pk)
    with time_machine.travel(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), tick=False):
        assert master_schedules_run_due() == 0
        schedule = master_schedule_enable(schedule_id=schedule.pk)
        assert master_schedules_run_due() == 0  # no catching up on the days it was off
    assert not Task.objects.exists()
    assert schedule.next_run_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_a_worker_down_for_hours_runs_a_missed_schedule_once():
    with time_machine.travel(MONDAY_0700, tick=False):
        schedule = create(cron="hour", text="Check the inbox")
    with time_machine.travel(datetime(2026, 11, 30, 17, 30, tzinfo=UTC), tick=False):  # 10 runs missed
        assert master_schedules_run_due() == 1
        assert master_schedules_run_due() == 0
    assert Task.objects.count() == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


def test_a_broken_schedule_is_recorded_and_the_others_still_run():
    with time_machine.travel(MONDAY_0700, tick=False):
        good = create(cron="hour")
        # A row written around the services (an old version, a hand edit): its cron is bad.
        bad = MasterSchedule.objects.create(cron="61 * * * *", text="broken", created_via=Surface.ADMIN,
                                            next_run_at=MONDAY_0700)
    with time_machine.travel(datetime(2026, 11, 30, 8, 1, tzinfo=UTC), tick=False):
        assert master_schedules_run_due() == 1
    bad.refresh_from_db()
    good.refresh_from_db()
    assert not bad.enabled and "never runs" in bad.last_error and bad.runs == 0
    assert good.runs == 1
    assert list(Task.objects.values_list("title", flat=True)) == ["Summarize yesterday and list what needs me"]


def test_editing_the_time_moves_the_next_run_and_unknown_ids_are_not_found():
    with time_machine.travel(MONDAY_0700, tick=False):
        schedule = create()
        schedule = master_schedule_update(schedule_id=schedule.pk, cron="monday 07:30", text="Plan the week")
    assert (schedule.next_run_at, schedule.text) == (datetime(2026, 11, 30, 7, 30, tzinfo=UTC), "Plan the week")
    with pytest.raises(ScheduleInvalid):
        master_schedule_update(schedule_id=schedule.pk, cron="sometimes")
    master_schedule_delete(schedule_id=schedule.pk)
    with pytest.raises(ScheduleNotFound, match=f"Schedule #{schedule.pk} does not exist"):
        master_schedule_delete(schedule_id=schedule.pk)


def test_a_digest_schedule_sends_a_digest_once_per_due_time(master):
    with time_machine.travel(MONDAY_0700, tick=False):
        schedule = create(cron="day 08:00", text="", kind=ScheduleKind.DIGEST)
    with time_machine.travel(datetime(2026, 11, 30, 8, 0, 30, tzinfo=UTC), tick=False):
        assert master_schedules_run_due() == 1
    digest = Notification.objects.get(kind=NotificationKind.DIGEST)
    assert digest.text.startswith("Digest (since 2026-11-29 08:00 UTC)")
    assert digest.idempotency_key == f"schedule:{schedule.pk}:2026-11-30T08:00:00+00:00:1001"
    assert not Task.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_run_a_due_schedule_once():
    with time_machine.travel(MONDAY_0700, tick=False):
        create(cron="hour")
        create(cron="hour", text="Second", kind=ScheduleKind.DIGEST)
    at = datetime(2026, 11, 30, 8, 0, 5, tzinfo=UTC)
    ran = run_at_once(lambda: master_schedules_run_due(now=at), count=4)
    assert sum(ran) == 2
    assert Task.objects.count() == 1
    assert Notification.objects.filter(kind=NotificationKind.DIGEST).count() == 1
    assert sorted(MasterSchedule.objects.values_list("runs", flat=True)) == [1, 1]
