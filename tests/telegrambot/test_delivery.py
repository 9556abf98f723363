"""Outbox delivery against the fake Bot API, through the real python-telegram-bot."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import Notification, NotificationStatus
from decisions.errors import NotificationNotFound, NotificationNotRetryable
from decisions.outbox import WAITING_NO_MASTER, WAITING_NO_TELEGRAM, notification_enqueue, notification_retry
from telegrambot.bot import BotSession, bot_settings, run_with_bot, telegram_configured
from telegrambot.delivery import outbox_deliver
from telegrambot.tasks import outbox_deliver_task
from telegrambot.text import split_message
from tests.concurrency import run_at_once
from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.telegram_api import BOT_BLOCKED, callback_query_update, message_update

from .conftest import long_text, decision_approval, decision_keyboard, pending

pytestmark = pytest.mark.django_db




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
    telegram.slow(0.02, times=None, method="sendMessage")  # keep the row locks overlapping
    # The workers meet only when two take the same head of the chat at once; a loaded machine
    # may start them apart, so up to three rounds, each checked, until one shows them competing.
    for attempt in range(3):
        texts = [f"concurrent {attempt}:{i}" for i in range(NOTIFICATIONS)]
        for text in texts:
            pending(text)
        reports = run_at_once(outbox_deliver, count=WORKERS, timeout=60)  # re-raises a worker's error

        sent = [text for text in telegram.texts() if text.startswith(f"concurrent {attempt}:")]
        assert sorted(sent) == sorted(texts)  # each exactly once
        assert sum(r["sent"] for r in reports) == NOTIFICATIONS
        assert Notification.objects.filter(
            status=NotificationStatus.SENT, text__startswith=f"concurrent {attempt}:"
        ).count() == NOTIFICATIONS
        if sum(r["skipped"] for r in reports) > 0:
            break
    assert sum(r["skipped"] for r in reports) > 0  # the workers really did compete
