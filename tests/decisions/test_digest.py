"""The digest: since the last one (or a day), what was done, spent, and waits on the Master."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from actions.models import TaskStatus
from budget.models import Scope
from decisions.digest import digest_text
from decisions.master_schedules import master_schedule_create, master_schedules_run_due
from decisions.models import CycleStatus, MasterSchedule, Notification, NotificationKind, ScheduleKind, Surface
from tests.factories.actions import TaskFactory
from tests.factories.budget import DailyCounterFactory
from tests.factories.decisions import ApprovalFactory, CycleFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def at(hours_ago: float):
    return time_machine.travel(NOW - timedelta(hours=hours_ago), tick=False)


@pytest.fixture
def day(settings):
    """A day of work: 3 cycles in the last day (2 completed, 1 failed), one two days ago;
    two tasks done and one failed since yesterday, one done long before; tokens spent; one
    decision and one question waiting."""
    settings.PROACTIVE_DAILY_TOKEN_LIMIT = 100_000
    settings.APPROVAL_TIMEOUT_SECONDS = 86_400
    with at(30):
        CycleFactory(status=CycleStatus.COMPLETED)
        TaskFactory(title="Old work", status=TaskStatus.DONE, finished_at=NOW - timedelta(hours=30))
    with at(5):
        CycleFactory(status=CycleStatus.COMPLETED)
        CycleFactory(status=CycleStatus.AWAITING_APPROVAL)
        CycleFactory(status=CycleStatus.FAILED)
        TaskFactory(title="Write the release notes", status=TaskStatus.DONE, finished_at=NOW - timedelta(hours=5))
        TaskFactory(title="Tidy the wiki", status=TaskStatus.DONE, finished_at=NOW - timedelta(hours=4))
        TaskFactory(title="Fix the build", status=TaskStatus.FAILED, finished_at=NOW - timedelta(hours=3))
        decision = ApprovalFactory(action="proactive_outreach", certainty=0.5,
                                   details={"recipient": "bob", "message": "Shall we meet on Friday?"})
        question = ApprovalFactory(kind="question", question="Which project first?", options=["a", "b"])
    with time_machine.travel(NOW, tick=False):
        DailyCounterFactory(scope=Scope.PROACTIVE, used=12_345, used_cost_micros=1_234_567)
        DailyCounterFactory(scope=Scope.REACTIVE, used=678, used_cost_micros=10_000)
    return decision, question


def test_the_digest_counts_the_last_day_and_lists_what_waits(day):
    decision, question = day
    with time_machine.travel(NOW, tick=False):
        text = digest_text(since=None, now=NOW)
    lines = text.splitlines()
    assert lines[0] == "Digest (since 2026-11-29 08:00 UTC)"
    assert "Cycles: 2 completed, 1 failed, 0 skipped." in lines
    assert "Tasks: 2 done, 1 failed." in lines
    assert any("Tidy the wiki" in line for line in lines) and "Old work" not in text
    assert ("Spent today: 12,345 of 100,000 proactive tokens (12%), 678 in chat; "
            "$1.24 (est.), $1.24 this month.") in lines
    assert "Waiting on you: 2" in lines
    assert f"  #{decision.pk} proactive_outreach: Shall we meet on Friday?" in lines
    assert f"  #{question.pk} question: Which project first?" in lines


def test_since_the_last_digest_only(day):
    with time_machine.travel(NOW, tick=False):
        text = digest_text(since=NOW - timedelta(hours=2), now=NOW, heading="Morning report")
    assert text.startswith("Morning report (since 2026-11-30 06:00 UTC)")
    assert "Cycles: 0 completed, 0 failed, 0 skipped." in text and "Tasks: 0 done, 0 failed." in text
    assert "Waiting on you: 2" in text  # waiting is waiting, however old


def test_nothing_waiting_says_so():
    with time_machine.travel(NOW, tick=False):
        assert "Waiting on you: nothing." in digest_text(since=None, now=NOW)


def test_a_digest_schedule_covers_the_time_since_its_last_run(master):
    MasterSchedule.objects.all().delete()
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        master_schedule_create(cron="0 * * * *", text="Hourly", kind=ScheduleKind.DIGEST, by="m", via=Surface.API)
    with time_machine.travel(NOW, tick=False):
        master_schedules_run_due()
        CycleFactory(status=CycleStatus.FAILED)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        master_schedules_run_due()
    first, second = Notification.objects.filter(kind=NotificationKind.DIGEST).order_by("id")
    assert first.text.startswith("Hourly (since 2026-11-29 08:00 UTC)")  # no earlier run: a day
    assert second.text.startswith("Hourly (since 2026-11-30 08:00 UTC)")
    assert "1 failed" in second.text.splitlines()[1]
