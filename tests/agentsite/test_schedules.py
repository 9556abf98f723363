"""Schedules exist whenever the database is migrated; "Agent online" once per deployment (issue #10).

`migrate` (a post_migrate receiver, agentsite.schedules.schedules_on_migrate) creates or
repairs the Django-Q2 schedules, so `migrate` + `qcluster` is a complete deployment,
and announces the agent at most once per ANNOUNCE_QUIET_MINUTES across every process.
"""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from agentsite.core.tasks import task_path
from agentsite.schedules import ANNOUNCE_QUIET_MINUTES, SCHEDULES, schedules_on_migrate, startup_announce
from agentsite.core.clock import utc_now
from decisions.models import Cycle, Notification, NotificationKind
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


def migrate() -> str:
    out = io.StringIO()
    call_command("migrate", interactive=False, verbosity=1, stdout=out)
    return out.getvalue()


def schedule_rows() -> list[tuple]:
    return list(Schedule.objects.order_by("name").values_list("pk", "name", "func", "schedule_type", "minutes",
                                                              "repeats"))


def startups() -> int:
    return Notification.objects.filter(kind=NotificationKind.STARTUP).count()


def test_migrate_leaves_the_schedules_every_minute_and_the_hourly_consolidation():
    Schedule.objects.all().delete()  # as on a fresh database
    output = migrate()
    rows = {name: (func, kind, minutes, repeats) for _, name, func, kind, minutes, repeats in schedule_rows()}
    hourly = {"agentsite: consolidate memory"}
    assert rows == {name: (task_path(task), Schedule.MINUTES, 60 if name in hourly else 1, -1)
                    for name, task in SCHEDULES.items()}
    assert len(rows) == len(SCHEDULES) == 7
    assert "Agent schedules: created: agentsite: proactive tick;" in output


def test_migrating_again_changes_nothing():
    migrate()
    before = schedule_rows()
    output = migrate()
    assert schedule_rows() == before
    assert f"Agent schedules: {len(SCHEDULES)} up to date." in output


def test_a_changed_schedule_is_repaired_and_others_are_left_alone():
    migrate()
    Schedule.objects.filter(name="agentsite: proactive tick").update(minutes=60, func="old.module.task")
    Schedule.objects.filter(name="agentsite: deliver outbox").update(schedule_type=Schedule.DAILY, repeats=3)
    tick_pk = Schedule.objects.get(name="agentsite: proactive tick").pk
    duplicate = Schedule.objects.create(name="agentsite: expire approvals", func="decisions.tasks.approval_expire_task",
                                        schedule_type=Schedule.MINUTES, minutes=1)
    mine = Schedule.objects.create(name="operator: nightly report", func="some.task", schedule_type=Schedule.DAILY)
    output = migrate()
    tick = Schedule.objects.get(name="agentsite: proactive tick")
    assert (tick.pk, tick.func, tick.minutes) == (tick_pk, "decisions.tasks.proactive_tick_task", 1)
    outbox = Schedule.objects.get(name="agentsite: deliver outbox")
    assert (outbox.schedule_type, outbox.minutes, outbox.repeats) == (Schedule.MINUTES, 1, -1)
    assert not Schedule.objects.filter(pk=duplicate.pk).exists()  # a duplicate would run the task twice
    assert Schedule.objects.filter(name="agentsite: expire approvals").count() == 1
    assert Schedule.objects.get(pk=mine.pk).func == "some.task"  # not ours: untouched
    assert "updated: agentsite: proactive tick" in output and "updated: agentsite: deliver outbox" in output


def test_setup_schedules_repairs_too():
    Schedule.objects.filter(name="agentsite: proactive tick").update(minutes=5)
    out = io.StringIO()
    call_command("setup_schedules", stdout=out)
    assert Schedule.objects.get(name="agentsite: proactive tick").minutes == 1
    assert "updated: agentsite: proactive tick" in out.getvalue()


def test_migrate_announces_once_within_the_quiet_window_and_again_after_it(settings):
    settings.MASTER_CHAT_IDS = [1001]
    start = utc_now()
    with time_machine.travel(start, tick=False):
        assert "Agent online queued." in migrate()
        assert "Agent online queued." not in migrate()
    assert startups() == 1
    row = Notification.objects.get(kind=NotificationKind.STARTUP)
    assert (row.chat_id, row.text.startswith("Agent online")) == (1001, True)
    with time_machine.travel(start + timedelta(minutes=ANNOUNCE_QUIET_MINUTES - 1), tick=False):
        migrate()  # a restart within a few minutes
        call_command("setup_schedules", "--announce", stdout=io.StringIO())  # or an explicit re-sync
    assert startups() == 1
    with time_machine.travel(start + timedelta(minutes=ANNOUNCE_QUIET_MINUTES + 1), tick=False):
        assert "Agent online queued." in migrate()
    assert startups() == 2


def test_no_announcement_without_a_master_nor_on_flush(settings):
    settings.MASTER_CHAT_IDS = []
    migrate()  # nobody could be told: no "failed" row either
    assert startups() == 0
    settings.MASTER_CHAT_IDS = [1001]
    # What flush (e.g. after a transactional test) sends: no plan. Not a deployment start.
    schedules_on_migrate(sender=None, using="default", verbosity=0)
    assert startups() == 0
    assert Schedule.objects.filter(name__in=SCHEDULES).count() == len(SCHEDULES)


def test_other_databases_are_left_alone(settings):
    settings.MASTER_CHAT_IDS = [1001]
    Schedule.objects.all().delete()
    schedules_on_migrate(sender=None, using="replica", verbosity=0, plan=[])  # no such alias: never touched
    assert Schedule.objects.count() == 0 and startups() == 0


def test_migrate_then_the_scheduler_alone_runs_a_cycle_and_delivers(claude, telegram):
    """`migrate` + what qcluster's scheduler does (no setup_schedules): a cycle runs and the
    outbox is swept, so the "Agent online" message reaches the Master."""
    Schedule.objects.all().delete()
    migrate()
    with time_machine.travel(utc_now() + timedelta(minutes=2), tick=False):
        scheduler(broker=get_broker())  # sync=True in the test settings: the tasks run here
    assert Cycle.objects.filter(trigger="schedule").exclude(status="running").count() == 1
    assert Notification.objects.get(kind=NotificationKind.STARTUP).status == "sent"
    assert any(call["chat_id"] == 1001 and call["text"].startswith("Agent online")
               for call in telegram.sent_messages)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_starting_at_once_announce_once(settings):
    settings.MASTER_CHAT_IDS = [1001]
    outcomes = run_at_once(startup_announce, count=4)
    assert sorted(outcomes) == [False, False, False, True]
    assert startups() == 1
