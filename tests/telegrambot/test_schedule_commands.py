"""/every, /schedules, /unschedule through the real bot against the fake Telegram: the
Master's schedules from the chat, with clear replies on bad input."""

from datetime import UTC, datetime

import pytest
import time_machine

from decisions.master_schedules import master_schedule_create, master_schedules_run_due
from decisions.models import MasterSchedule, Notification, NotificationKind, ScheduleKind, Surface
from telegrambot.delivery import outbox_deliver
from telegrambot.schedule_commands import ScheduleUsage, every_parse
from tests.telegrambot.test_commands import reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls", "_no_default_digest")]

MONDAY_0700 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@pytest.fixture
def _no_default_digest():
    MasterSchedule.objects.all().delete()


@pytest.mark.parametrize(("args", "parsed"), [
    ("0 8 * * 1-5: summarize yesterday", ("0 8 * * 1-5", "summarize yesterday", "task")),
    ("weekday 08:00: summarize yesterday: and more", ("weekday 08:00", "summarize yesterday: and more", "task")),
    ("day 08:00: plan\nthe day", ("day 08:00", "plan\nthe day", "task")),
    ("daily 7:15: x", ("daily 7:15", "x", "task")),
    ("Monday 09:30: plan the week", ("Monday 09:30", "plan the week", "task")),
    ("hour: check the inbox", ("hour", "check the inbox", "task")),
    ("weekday 18:00 digest", ("weekday 18:00", "", "digest")),
    ("0 18 * * 5 digest", ("0 18 * * 5", "", "digest")),
    ("day 08:00: Digest", ("day 08:00", "", "digest")),
])
def test_every_reads_a_cron_or_words_then_the_work(args, parsed):
    assert every_parse(args) == parsed


@pytest.mark.parametrize("args", ["", "weekday 08:00", "weekday 08:00:", "tomorrow: x", "0 8 * *: x",
                                  "monday 09:30 plan the week"])
def test_every_without_a_when_and_a_what_is_refused(args):
    with pytest.raises(ScheduleUsage, match="Usage: /every"):
        every_parse(args)


@time_machine.travel(MONDAY_0700, tick=False)
def test_every_creates_a_schedule_and_says_when_it_runs(bot):
    text = reply(bot, "/every weekday 08:00: summarize yesterday and list what needs me")
    schedule = MasterSchedule.objects.get()
    assert (schedule.cron, schedule.kind, schedule.created_via) == ("0 8 * * 1-5", ScheduleKind.TASK, Surface.TELEGRAM)
    assert schedule.text == "summarize yesterday and list what needs me"
    assert text == (f"Scheduled #{schedule.pk}: the task “summarize yesterday and list what needs me” at "
                    f"0 8 * * 1-5 (cron, UTC); next run 2026-11-30 08:00 UTC. /unschedule {schedule.pk} removes it.")


def test_every_digest_makes_a_digest_schedule_that_sends_one(bot):
    with time_machine.travel(MONDAY_0700, tick=False):
        assert "a digest at 0 18 * * 1-5" in reply(bot, "/every weekday 18:00 digest")
    with time_machine.travel(datetime(2026, 11, 30, 18, 0, 10, tzinfo=UTC), tick=False):
        master_schedules_run_due()
        outbox_deliver()
    digest = Notification.objects.get(kind=NotificationKind.DIGEST)
    assert "Waiting on you: nothing." in digest.text
    assert bot.texts(1001)[-1] == digest.text and digest.text.startswith("Digest (since 2026-11-29 18:00 UTC)")


@pytest.mark.parametrize(("command", "says"), [
    ("/every sometimes: x", "Usage: /every <when>: <what to do>"),
    ("/every day 25:00: x", "25:00 is not a time of day"),
    ("/every 0 0 31 2 *: x", "never runs"),
    ("/every 61 * * * *: x", "Not a schedule time"),
    ("/unschedule", "Usage: /unschedule <id>"),
    ("/unschedule abc", "Usage: /unschedule <id>"),
    ("/unschedule 999", "Schedule #999 does not exist."),
])
def test_bad_input_gets_a_clear_reply_and_nothing_changes(bot, command, says):
    assert says in reply(bot, command)
    assert not MasterSchedule.objects.exists()


def test_schedules_lists_them_and_unschedule_removes_one(bot):
    assert reply(bot, "/schedules").startswith("No schedules. Add one with /every")
    with time_machine.travel(MONDAY_0700, tick=False):
        first = master_schedule_create(cron="hour", text="Check the inbox", by="m", via=Surface.API)
        second = master_schedule_create(cron="day 08:00", text="", kind=ScheduleKind.DIGEST, by="m",
                                        via=Surface.TELEGRAM, enabled=False)
    lines = reply(bot, "/schedules").splitlines()
    assert lines == [
        "Your schedules (2):",
        f"#{first.pk} [task] 0 * * * * (next 2026-11-30 08:00 UTC): Check the inbox",
        f"#{second.pk} [digest] 0 8 * * * (disabled)",
        "Remove one with /unschedule <id>.",
    ]
    assert reply(bot, f"/unschedule #{first.pk}") == f"Removed schedule #{first.pk}."
    assert list(MasterSchedule.objects.values_list("pk", flat=True)) == [second.pk]


def test_help_lists_the_schedule_commands(bot):
    text = reply(bot, "/help")
    assert "/every <when>: <what to do>" in text and "/schedules" in text and "/unschedule <id>" in text


@pytest.mark.fault("Telegram down when a digest is due")
def test_a_digest_due_while_telegram_is_down_is_delivered_later_once(bot, make_due):
    with time_machine.travel(MONDAY_0700, tick=False):
        master_schedule_create(cron="day 08:00", text="Morning", kind=ScheduleKind.DIGEST, by="m", via=Surface.API)
    bot.fail(502, times=1, method="sendMessage")
    with time_machine.travel(datetime(2026, 11, 30, 8, 0, 10, tzinfo=UTC), tick=False):
        assert master_schedules_run_due() == 1
        outbox_deliver()
        assert master_schedules_run_due() == 0  # not run again: moved to tomorrow
    digest = Notification.objects.get(kind=NotificationKind.DIGEST)
    assert digest.status == "pending" and digest.attempts == 1  # kept, to be retried
    make_due()
    outbox_deliver()
    digest.refresh_from_db()
    assert digest.status == "sent"
    assert [t for t in bot.texts(1001) if t.startswith("Morning (since")] == [digest.text]
