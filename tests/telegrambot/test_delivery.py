"""Outbox delivery against the fake Bot API, through the real python-telegram-bot."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from decisions.models import Notification, NotificationStatus
from decisions.errors import NotificationNotFound, NotificationNotRetryable
from decisions.outbox import WAITING_NO_MASTER, WAITING_NO_TELEGRAM, notification_enqueue, notification_retry
from telegrambot.bot import BotSession, bot_settings, run_with_bot, telegram_configured
from telegrambot.delivery import outbox_deliver
from telegrambot.delivery_outcomes import BACKOFF_CAP_SECONDS, retry_delay
from telegrambot.tasks import outbox_deliver_task
from telegrambot.text import split_message
from tests.concurrency import run_at_once
from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.telegram_api import BOT_BLOCKED, CHAT_NOT_FOUND, callback_query_update, message_update

from .conftest import decision_approval, decision_keyboard, pending

pytestmark = pytest.mark.django_db



def long_text(paragraphs: int = 7) -> str:
    """About 10,000 characters in paragraphs of ~1,500."""
    return "\n\n".join(" ".join(f"p{i}w{j}" for j in range(250)) for i in range(paragraphs))


def deliver_until_done(make_due, rounds: int = 10) -> list[dict]:
    reports = []
    for _ in range(rounds):
        reports.append(outbox_deliver())
        if not Notification.objects.filter(status=NotificationStatus.PENDING).exists():
            break
        make_due()
    return reports


# --- the happy path ----------------------------------------------------------------


def test_a_notification_is_delivered_once_to_the_right_chat(telegram):
    [row] = notification_enqueue(kind="message", text="Hello, Master.", key="hello")

    report = outbox_deliver()
    again = outbox_deliver()

    assert report == {"configured": True, "sent": 1, "retrying": 0, "failed": 0, "skipped": 0, "detail": ""}
    assert again["sent"] == 0
    [message] = telegram.sent_messages
    assert (message["chat_id"], message["text"]) == (1001, "Hello, Master.")
    assert len(telegram.calls("sendMessage")) == 1
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT
    assert (row.attempts, row.sent_parts, row.last_error) == (1, 1, "")
    assert row.telegram_message_id == message["message_id"]
    assert row.sent_at is not None and row.next_attempt_at is None


def test_every_master_gets_their_own_copy(telegram, settings):
    settings.MASTER_CHAT_IDS = [1001, 1002]
    notification_enqueue(kind="startup", text="Agent online", key="startup")

    assert outbox_deliver()["sent"] == 2
    assert sorted(m["chat_id"] for m in telegram.sent_messages) == [1001, 1002]


def test_enqueue_queues_the_delivery_task_which_runs_inline(telegram, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        [row] = notification_enqueue(kind="message", text="right away", key="now")

    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT
    assert telegram.texts() == ["right away"]


def test_the_task_is_a_thin_wrapper(telegram):
    pending("via the task")
    assert outbox_deliver_task()["sent"] == 1


def test_buttons_arrive_with_the_message(telegram):
    approval = decision_approval()
    [row] = notification_enqueue(kind="approval_request", text="May I?", key="ask", approval=approval)

    outbox_deliver()

    [message] = telegram.sent_messages
    assert message["reply_markup"] == decision_keyboard(approval.pk)
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT


def test_oldest_first_and_the_limit_is_respected(telegram):
    for i in range(5):
        pending(f"n{i}")

    assert outbox_deliver(limit=3)["sent"] == 3
    assert telegram.texts() == ["n0", "n1", "n2"]
    assert outbox_deliver(limit=3)["sent"] == 2


def test_rows_not_yet_due_wait(telegram):
    pending("later", next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert outbox_deliver()["sent"] == 0
    assert telegram.requests == []  # not even a connection


# --- long messages -------------------------------------------------------------------


def test_a_long_text_goes_in_parts_that_fit_and_reassemble(telegram):
    text = long_text()
    assert len(text) >= 10_000
    approval = decision_approval()
    row = pending(text, kind="approval_request", approval=approval)

    outbox_deliver()

    sent = telegram.sent_messages
    assert len(sent) == len(split_message(text)) >= 3
    assert all(len(m["text"]) <= 4096 for m in sent)
    assert "\n\n".join(m["text"] for m in sent) == text  # cut at paragraph breaks only
    assert [m["reply_markup"] for m in sent] == [None] * (len(sent) - 1) + [decision_keyboard(approval.pk)]
    row.refresh_from_db()
    assert (row.status, row.sent_parts, row.attempts) == (NotificationStatus.SENT, len(sent), 1)
    assert row.telegram_message_id == sent[-1]["message_id"]


def test_a_single_huge_word_is_cut_hard_and_nothing_is_lost(telegram):
    text = "x" * 10_000
    pending(text)

    outbox_deliver()

    assert [len(t) for t in telegram.texts()] == [4096, 4096, 1808]
    assert "".join(telegram.texts()) == text


@pytest.mark.fault("Telegram down 2 h")
def test_a_failure_after_part_one_resumes_at_part_two(telegram, make_due):
    text = long_text()
    parts = split_message(text)
    row = pending(text)
    telegram.fail(502, method="sendMessage", after=1)  # part 1 goes, part 2 hits an outage

    first = outbox_deliver()

    row.refresh_from_db()
    assert first["retrying"] == 1
    assert (row.status, row.sent_parts, row.attempts) == (NotificationStatus.PENDING, 1, 1)
    assert "Bad Gateway" in row.last_error and f"after 1 of {len(parts)} parts" in row.last_error

    make_due()
    outbox_deliver()

    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT
    assert telegram.texts() == parts  # each part exactly once, in order
    assert row.telegram_message_id == telegram.sent_messages[-1]["message_id"]


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


# --- configuration and secrets ---------------------------------------------------------


def test_without_a_token_nothing_is_sent_and_rows_stay_pending(settings, fake_telegram):
    settings.TELEGRAM_BOT_TOKEN = ""
    settings.TELEGRAM_API_BASE_URL = f"{fake_telegram.url}/bot"
    settings.MASTER_CHAT_IDS = [1001]
    [row] = notification_enqueue(kind="message", text="unsent", key="unsent")

    report = outbox_deliver()

    assert not telegram_configured()
    assert report["configured"] is False and report["sent"] == 0
    assert "TELEGRAM_BOT_TOKEN" in report["detail"] and "1 message(s) waiting" in report["detail"]
    assert fake_telegram.requests == []
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.PENDING, 0, WAITING_NO_TELEGRAM)


def test_a_notification_for_nobody_waits_and_is_never_attempted(telegram, settings):
    settings.MASTER_CHAT_IDS = []
    [row] = notification_enqueue(kind="message", text="to nobody", key="nobody")
    assert (row.chat_id, row.status) == (None, NotificationStatus.PENDING)

    report = outbox_deliver()

    assert report["sent"] == report["failed"] == report["retrying"] == 0
    assert "no Master chat configured" in report["detail"] and "1 message(s) waiting" in report["detail"]
    assert telegram.requests == []
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.PENDING, 0, WAITING_NO_MASTER)
    assert str(row) == "Message (waiting: no Master chat configured)"


def test_the_bot_token_never_reaches_last_error_or_the_logs(telegram, caplog, make_due):
    caplog.set_level(logging.DEBUG)
    row = pending("secretive")
    # An error whose text echoes the request URL, as a proxy's might.
    telegram.fail(502, method="sendMessage", description=f"upstream failed for /bot{TEST_BOT_TOKEN}/sendMessage")

    outbox_deliver()

    row.refresh_from_db()
    assert "upstream failed" in row.last_error
    assert TEST_BOT_TOKEN not in row.last_error
    assert TEST_BOT_TOKEN.partition(":")[2] not in row.last_error
    make_due()
    telegram.expected_token = "999:another-token"  # now the token is refused (401)
    outbox_deliver()
    row.refresh_from_db()
    assert "rejected the bot token" in row.last_error
    assert TEST_BOT_TOKEN not in row.last_error
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("telegrambot")]
    assert any("upstream failed" in line for line in ours)
    assert all(TEST_BOT_TOKEN not in line for line in ours)
    assert TEST_BOT_TOKEN not in caplog.text
    assert "123456:TEST" not in repr(bot_settings())


def test_a_rejected_token_stops_the_round_without_using_up_attempts(telegram):
    telegram.expected_token = "999:another-token"
    first, second = pending("a"), pending("b")

    report = outbox_deliver()

    first.refresh_from_db()
    second.refresh_from_db()
    assert report["skipped"] == 1 and "rejected" in report["detail"]
    assert (first.status, first.attempts, first.next_attempt_at) == (NotificationStatus.PENDING, 0, None)
    assert "TELEGRAM_BOT_TOKEN" in first.last_error
    assert second.last_error == ""
    telegram.expected_token = None
    assert outbox_deliver()["sent"] == 2  # fixed config: both go at once


# --- the sync/async bridge ---------------------------------------------------------------


def test_deliveries_in_a_row_in_one_process_reuse_nothing_from_a_closed_loop(telegram):
    for i in range(3):
        pending(f"round {i}")
        assert outbox_deliver()["sent"] == 1
    assert telegram.texts() == ["round 0", "round 1", "round 2"]
    assert run_with_bot(lambda bot: bot.get_me()).username == telegram.username
    assert run_with_bot(lambda bot: bot.get_me()).id == telegram.bot_id


def test_a_changed_setting_takes_effect(telegram, settings):
    assert bot_settings().token == TEST_BOT_TOKEN
    settings.TELEGRAM_BOT_TOKEN = "777:changed-token-not-real"
    assert bot_settings().token == "777:changed-token-not-real"
    pending("with the new token")
    outbox_deliver()
    assert telegram.requests[-1].path.startswith("/bot777:changed-token-not-real/sendMessage")


def test_the_fake_speaks_the_rest_of_the_bot_api(telegram):
    telegram.push_update(message_update("/start"))
    telegram.push_update(callback_query_update("approval:7:approve", message_id=5))

    def exercise(bot):
        async def run():
            updates = await bot.get_updates(timeout=1)
            empty = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
            edited = await bot.edit_message_text(chat_id=1001, message_id=5, text="Approved")
            answered = await bot.answer_callback_query(updates[1].callback_query.id, text="Done")
            await bot.set_webhook("https://example.test/telegram/webhook/", secret_token="s3cret")
            info = await bot.get_webhook_info()
            await bot.delete_webhook()
            return updates, empty, edited, answered, info, await bot.get_webhook_info()

        return run()

    with BotSession() as session:
        updates, empty, edited, answered, info, cleared = session.call(exercise)

    assert updates[0].message.text == "/start" and updates[0].message.chat.id == 1001
    assert updates[1].callback_query.data == "approval:7:approve"
    assert empty == ()
    assert (edited.message_id, edited.text) == (5, "Approved")
    assert answered is True
    assert info.url == "https://example.test/telegram/webhook/" and cleared.url == ""
    assert telegram.webhook == {}
    assert telegram.calls("setWebhook")[0]["secret_token"] == "s3cret"


# --- retry from the admin ------------------------------------------------------------------


@pytest.mark.fault("Telegram permanent error")
def test_a_failed_notification_can_be_retried_now(telegram):
    telegram.fail_method("sendMessage", BOT_BLOCKED, times=1)
    row = pending("second chance")
    outbox_deliver()
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED

    retried = notification_retry(notification_id=row.pk)

    assert (retried.status, retried.attempts) == (NotificationStatus.PENDING, 0)
    assert retried.next_attempt_at <= timezone.now()
    assert outbox_deliver()["sent"] == 1
    assert telegram.texts() == ["second chance"]


def test_retry_refuses_what_cannot_be_retried(telegram, settings):
    sent = pending("done", status=NotificationStatus.SENT)
    settings.MASTER_CHAT_IDS = []
    [nobody] = notification_enqueue(kind="message", text="to nobody", key="nobody")
    with pytest.raises(NotificationNotRetryable):
        notification_retry(notification_id=sent.pk)
    with pytest.raises(NotificationNotRetryable):
        notification_retry(notification_id=nobody.pk)
    with pytest.raises(NotificationNotFound):
        notification_retry(notification_id=987654)


# --- concurrency (PostgreSQL row locks) ---------------------------------------------------------

WORKERS = 6
NOTIFICATIONS = 24


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_notification_exactly_once(telegram):
    texts = [f"concurrent {i}" for i in range(NOTIFICATIONS)]
    for text in texts:
        pending(text)
    telegram.slow(0.02, times=None, method="sendMessage")  # keep the row locks overlapping
    reports = run_at_once(outbox_deliver, count=WORKERS, timeout=60)  # re-raises a worker's error

    assert sorted(telegram.texts()) == sorted(texts)  # each exactly once
    assert sum(r["sent"] for r in reports) == NOTIFICATIONS
    assert sum(r["skipped"] for r in reports) > 0  # the workers really did compete
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == NOTIFICATIONS
