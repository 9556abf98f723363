"""Outbox delivery through outages: retries, backoff, flood control, refusals and the maximum age,
against the fake Bot API through the real python-telegram-bot."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from decisions.models import Notification, NotificationStatus
from decisions.outbox import notification_retry
from telegrambot.delivery import outbox_deliver
from telegrambot.delivery_outcomes import BACKOFF_CAP_SECONDS, retry_delay
from telegrambot.text import split_message
from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.telegram_api import BOT_BLOCKED, CHAT_NOT_FOUND

from .conftest import deliver_until_done, long_text, pending

pytestmark = pytest.mark.django_db




# --- outages and retries -------------------------------------------------------------


@pytest.mark.fault("Telegram down 2 h")
def test_the_outbox_survives_an_outage_and_delivers_each_message_exactly_once(telegram, make_due):
    texts = ["first", "second", long_text(), "fourth"]
    rows = [pending(text) for text in texts]
    other = pending("to the other Master", chat_id=1002)
    telegram.fail(502, times=5, method="sendMessage")  # several rounds' worth

    first = outbox_deliver()
    assert first["retrying"] == 2 and first["sent"] == 0  # the head of each chat; the rest wait in line
    assert outbox_deliver()["retrying"] == 0  # backing off: nothing is due yet
    for row in [rows[0], other]:
        row.refresh_from_db()
        assert row.status == NotificationStatus.PENDING
        assert row.next_attempt_at > timezone.now()
        assert "Bad Gateway" in row.last_error
    for row in rows[1:]:
        row.refresh_from_db()
        assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)

    reports = deliver_until_done(make_due)

    assert not Notification.objects.exclude(status=NotificationStatus.SENT).exists()
    assert sum(r["sent"] for r in reports) == 5
    expected = [part for text in texts for part in split_message(text)]
    assert telegram.texts(1001) == expected  # every part exactly once, in the order written
    assert len(set(expected)) == len(expected)
    assert telegram.texts(1002) == ["to the other Master"]
    rows[0].refresh_from_db()
    assert rows[0].attempts >= 2
    for row in rows + [other]:
        row.refresh_from_db()
        assert row.last_error == "" and row.sent_at is not None


@pytest.mark.fault("Telegram down 2 h")
def test_backoff_grows_exponentially_and_is_capped(telegram, make_due):
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert retry_delay(7).total_seconds() == 320
    assert retry_delay(8) == retry_delay(30) == retry_delay(10_000) == timedelta(minutes=10)
    assert BACKOFF_CAP_SECONDS == 600
    row = pending("flaky")
    telegram.fail(502, times=None, method="sendMessage")
    waits = []
    for _ in range(3):
        before = timezone.now()
        outbox_deliver()
        row.refresh_from_db()
        waits.append(round((row.next_attempt_at - before).total_seconds()))
        make_due()
    assert waits == [5, 10, 20]
    assert row.attempts == 3


@pytest.mark.fault("Telegram 429")
def test_flood_control_is_respected_and_ends_the_round(telegram):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first, second = pending("one"), pending("two")
        telegram.rate_limit(retry_after=30)
        before = timezone.now()

        report = outbox_deliver()

        first.refresh_from_db()
        second.refresh_from_db()
        assert report["retrying"] == 1 and report["skipped"] == 1
        assert "rate limited" in report["detail"]
        assert first.status == NotificationStatus.PENDING
        assert first.next_attempt_at >= before + timedelta(seconds=30)
        assert "retry after 30 s" in first.last_error
        assert (second.attempts, second.next_attempt_at) == (0, None)  # untouched, still due
        assert len(telegram.calls("sendMessage")) == 1
        clock.shift(29)
        paused = outbox_deliver()  # the whole bot waits, and "two" never overtakes "one"
        assert (paused["sent"], paused["skipped"]) == (0, 1) and "flood control" in paused["detail"]
        assert len(telegram.calls("sendMessage")) == 1
        clock.shift(1)
        assert outbox_deliver()["sent"] == 2
        assert telegram.texts() == ["one", "two"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [(CHAT_NOT_FOUND, "BadRequest: Chat not found"), (BOT_BLOCKED, "Forbidden: bot was blocked by the user")],
)
@pytest.mark.fault("Telegram permanent error")
def test_a_permanent_refusal_fails_at_once(telegram, error, expected, make_due):
    telegram.fail_method("sendMessage", error, chat_id=1001)
    refused, other = pending("to the blocked chat", chat_id=1001), pending("to another", chat_id=1002)

    report = outbox_deliver()

    refused.refresh_from_db()
    assert (report["failed"], report["sent"]) == (1, 1)
    assert refused.status == NotificationStatus.FAILED
    assert refused.attempts == 1 and refused.next_attempt_at is None
    assert refused.last_error == f"permanent: {expected}"
    assert telegram.texts() == ["to another"]
    make_due()
    outbox_deliver()
    assert len(telegram.calls("sendMessage")) == 2  # never tried again


@pytest.mark.fault("Telegram down 2 h")
def test_a_transient_fault_never_gives_up_before_the_maximum_age(telegram, make_due):
    row = pending("stubborn")
    telegram.fail(502, times=None, method="sendMessage")

    deliver_until_done(make_due, rounds=30)  # the old rule gave up after 8

    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING
    assert row.attempts == 30 == len(telegram.calls("sendMessage"))
    assert row.last_error.startswith("attempt 30 failed: ") and "Bad Gateway" in row.last_error
    assert "next try in 600 s" in row.last_error


@pytest.mark.fault("Telegram down 2 h")
def test_a_row_past_the_maximum_age_fails_visibly(telegram, settings, admin_client):
    from agentsite.dashboard import dashboard_data

    settings.NOTIFICATION_MAX_AGE_SECONDS = 3600
    telegram.fail(502, times=None, method="sendMessage")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        row = pending("too late")
        behind = pending("behind it")  # never tried: it waits for the first one
        other = pending("fresh", chat_id=1002)
        minutes = 0
        while row.status == NotificationStatus.PENDING and minutes < 120:
            clock.shift(60)
            minutes += 1
            outbox_deliver()
            row.refresh_from_db()

        assert minutes == 60  # failed when an hour old, not before, and on time
        assert row.status == NotificationStatus.FAILED and row.next_attempt_at is None
        assert row.last_error.startswith(f"expired after {row.attempts} attempt(s) over 1 hour")
        assert "Bad Gateway" in row.last_error
        assert row.attempts >= 8  # tried all along, every 10 min at most
        behind.refresh_from_db()
        assert behind.status == NotificationStatus.FAILED and behind.attempts == 0
        assert behind.last_error.startswith("expired after 0 attempt(s) over 1 hour")

        other.refresh_from_db()
        assert other.status == NotificationStatus.FAILED  # also an hour old
        assert dashboard_data(now=timezone.now())["failed_notifications"] == 3
        page = admin_client.get("/admin/decisions/notification/", {"status__exact": "failed"})
        assert b"expired after" in page.content

        # "Retry now" gives a fresh hour: it is tried again rather than expired at once.
        telegram.clear_failures()
        notification_retry(notification_id=row.pk)
        notification_retry(notification_id=behind.pk)
        assert outbox_deliver()["sent"] == 2
        assert telegram.texts() == ["too late", "behind it"]


@pytest.mark.fault("Slow Telegram")
def test_a_timeout_is_retried_later(telegram, settings):
    settings.TELEGRAM_REQUEST_TIMEOUT_SECONDS = 0.2
    row = pending("slow network")
    telegram.slow(0.5, method="sendMessage")

    assert outbox_deliver()["retrying"] == 1

    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING and row.attempts == 1
    assert "TimedOut" in row.last_error and "may have received it" in row.last_error


@pytest.mark.fault("Telegram down 2 h")
def test_an_unreachable_api_is_retried_later(telegram, settings):
    settings.TELEGRAM_API_BASE_URL = "http://127.0.0.1:9/bot"  # nothing listens there
    row = pending("nobody home")

    assert outbox_deliver()["retrying"] == 1

    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING and "NetworkError" in row.last_error
    assert TEST_BOT_TOKEN not in row.last_error


def test_a_migrated_chat_is_followed(telegram, make_due):
    row = pending("to the old group", chat_id=-4001)
    telegram.fail(400, method="sendMessage", description="Bad Request: group chat was upgraded to a supergroup chat",
                  parameters={"migrate_to_chat_id": -1004001})

    outbox_deliver()
    row.refresh_from_db()
    assert (row.status, row.chat_id) == (NotificationStatus.PENDING, -1004001)

    make_due()
    outbox_deliver()
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT
    assert telegram.sent_messages[-1]["chat_id"] == -1004001
