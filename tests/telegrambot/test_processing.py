"""The one handling path: a stored update is processed once; a failure leaves it for the
retry sweep (attempt counted, short secret-free error), up to MAX_ATTEMPTS; never dropped."""

from datetime import timedelta

import pytest
from django.db import DatabaseError

from actions.models import Task
from agentsite.core.clock import utc_now
from telegrambot import chat, conversation
from telegrambot.delivery import outbox_deliver
from telegrambot.models import ChatMessage, TelegramUpdate, UpdateSource, UpdateStatus
from telegrambot.storable import payload_storable, text_storable
from telegrambot.tasks import update_process_task, updates_retry_task
from telegrambot.updates import (
    MAX_ATTEMPTS,
    UpdateInProgress,
    UpdateInvalid,
    processing_lease,
    update_process,
    update_retry,
    update_store,
    updates_retry_due,
)
from tests.concurrency import run_at_once
from tests.conftest import TEST_BOT_TOKEN
from tests.telegrambot._support import (
    MASTER,
    handle,
    message,
    next_update_id,
    stored,
)

pytestmark = pytest.mark.django_db


def make_due() -> None:
    TelegramUpdate.objects.filter(status=UpdateStatus.RECEIVED).update(next_attempt_at=utc_now() - timedelta(seconds=1))


def test_two_updates_in_a_row_each_run_on_a_fresh_event_loop(bot, claude):
    claude.reply_text("one")
    claude.reply_text("two")

    assert handle(message("/status")) == "processed"
    assert handle(message("first")) == "processed"
    assert handle(message("second")) == "processed"
    assert update_process_task(next_update_id()).endswith("skipped")  # unknown id: nothing to do

    assert bot.texts(MASTER)[1:] == ["one", "two"]


def test_a_processed_update_is_not_processed_again(bot):
    update = message("/status")
    handle(update)

    assert update_process(update_id=update["update_id"]) == "skipped"
    assert stored(update).attempts == 1
    assert len(bot.sent_messages) == 1


def test_an_update_claimed_by_a_live_worker_is_left_to_it(bot):
    update = message("/status")
    update_store(payload=update)
    TelegramUpdate.objects.update(processing_until=utc_now() + processing_lease())

    assert update_process(update_id=update["update_id"]) == "skipped"
    TelegramUpdate.objects.update(processing_until=utc_now() - timedelta(seconds=1))  # the worker died
    assert update_process(update_id=update["update_id"]) == "processed"


def test_without_a_token_nothing_is_processed_or_counted(bot, settings):
    update = message("/status")
    update_store(payload=update)
    settings.TELEGRAM_BOT_TOKEN = ""

    assert update_process(update_id=update["update_id"]) == "skipped"
    assert updates_retry_due() == {"processed": 0, "retrying": 0, "failed": 0, "skipped": 0}
    assert (stored(update).status, stored(update).attempts) == (UpdateStatus.RECEIVED, 0)


def test_a_bad_stored_payload_is_retried_then_processed_once_fixed(bot):
    update = message("/status")
    broken = {**update, "message": "not a message"}
    update_store(payload=broken)

    assert update_process(update_id=update["update_id"]) == "retrying"

    row = stored(update)
    assert (row.status, row.attempts, row.processing_until) == (UpdateStatus.RECEIVED, 1, None)
    assert row.last_error.startswith("attempt 1 of 5 failed: ")
    assert len(row.last_error) <= 500
    assert row.next_attempt_at > utc_now()
    assert updates_retry_due()["processed"] == 0  # not due yet

    TelegramUpdate.objects.update(payload=update)
    make_due()
    assert updates_retry_task() == {"processed": 1, "retrying": 0, "failed": 0, "skipped": 0}

    row = stored(update)
    assert (row.status, row.attempts, row.last_error) == (UpdateStatus.PROCESSED, 2, "")
    outbox_deliver()
    assert len(bot.texts(MASTER)) == 1


def test_a_database_failure_in_a_handler_is_retried_and_answered_once(bot, claude, monkeypatch):
    claude.reply_text("Hello!")
    real = chat.reply_send
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise DatabaseError("connection lost")
        return real(**kwargs)

    monkeypatch.setattr(chat, "reply_send", flaky)
    update = message("Hello?")

    assert handle(update) == "retrying"
    assert stored(update).last_error.startswith("attempt 1 of 5 failed: DatabaseError: connection lost")
    assert bot.texts(MASTER) == []

    make_due()
    claude.reply_text("Hello!")
    updates_retry_due()
    outbox_deliver()
    assert stored(update).status == UpdateStatus.PROCESSED
    assert bot.texts(MASTER) == ["Hello!"]
    assert ChatMessage.objects.filter(update_id=update["update_id"]).count() == 2  # in and out, once each


def test_last_error_never_holds_the_token_or_the_secret(bot, settings, monkeypatch):
    settings.TELEGRAM_WEBHOOK_SECRET = "webhook-secret-value-42"

    def leaky(**kwargs):
        raise RuntimeError(f"boom {TEST_BOT_TOKEN} webhook-secret-value-42")

    monkeypatch.setattr(conversation, "command_handle", leaky)
    update = message("/status")

    assert handle(update) == "retrying"

    error = stored(update).last_error
    assert "RuntimeError: boom" in error
    assert TEST_BOT_TOKEN not in error and TEST_BOT_TOKEN.partition(":")[2] not in error
    assert "webhook-secret-value-42" not in error


def test_an_update_failing_every_time_is_marked_failed_after_the_last_attempt(bot):
    update = {**message("/status"), "message": "still broken"}
    update_store(payload=update)

    results = [update_process(update_id=update["update_id"])]
    for _ in range(MAX_ATTEMPTS - 1):
        make_due()
        results += [outcome for outcome, n in updates_retry_due().items() if n]

    assert results == ["retrying"] * (MAX_ATTEMPTS - 1) + ["failed"]
    row = stored(update)
    assert (row.status, row.attempts, row.next_attempt_at) == (UpdateStatus.FAILED, MAX_ATTEMPTS, None)
    assert row.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    make_due()
    assert updates_retry_due()["processed"] == 0  # failed rows wait for a person

    TelegramUpdate.objects.update(payload=message("/status", update_id=update["update_id"]))
    update_retry(update_id=update["update_id"])
    assert update_process(update_id=update["update_id"]) == "processed"


def test_update_store_is_idempotent_and_validates(bot):
    update = message("/status")

    first, created = update_store(payload=update, source=UpdateSource.POLLING)
    again, created_again = update_store(payload={**update, "message": None})

    assert (created, created_again) == (True, False)
    assert first.pk == again.pk and again.payload == update and again.source == UpdateSource.POLLING
    for bad in ([], {"update_id": "1"}, {"update_id": None}, {"update_id": 2**63}):
        with pytest.raises(UpdateInvalid):
            update_store(payload=bad)


# --- characters a database cannot store ------------------------------------------------------


def test_text_storable_drops_nul_and_lone_surrogates():
    assert text_storable("a\x00b\x00") == "ab"
    assert text_storable("x\ud800y") == "x\ufffdy"
    assert text_storable("emoji 😀 stays") == "emoji 😀 stays"
    assert payload_storable({"update_id": 7, "a\x00": ["b\x00", {"c": "\x00d"}, 1, None, True]}) == {
        "update_id": 7, "a": ["b", {"c": "d"}, 1, None, True]}


def test_nul_characters_are_stripped_from_the_stored_update_and_the_message(bot, claude):
    claude.reply_text("Got it.")
    update = message("a\u0000b")
    update["message"]["from"]["first_name"] = "Ma\x00ster"

    row, created = update_store(payload=update)
    assert update_process(update_id=update["update_id"]) == "processed"

    assert created and row.payload["message"]["text"] == "ab"
    assert stored(update).payload["message"]["text"] == "ab"
    inbound = ChatMessage.objects.get(update_id=update["update_id"], direction="in")
    assert (inbound.text, inbound.first_name) == ("ab", "Master")
    assert claude.message_requests[-1].json["messages"][-1] == {"role": "user", "content": "ab"}


# --- the admin's retry -------------------------------------------------------------------------


def test_an_update_being_processed_is_not_retried(bot):
    update = message("/status")
    update_store(payload=update)
    claim = utc_now() + processing_lease()
    TelegramUpdate.objects.update(processing_until=claim, attempts=1)

    with pytest.raises(UpdateInProgress) as refused:
        update_retry(update_id=update["update_id"])

    assert refused.value.kind == "conflict" and "being processed" in refused.value.message
    row = stored(update)
    assert (row.processing_until, row.attempts) == (claim, 1)  # the live claim is untouched
    assert update_process(update_id=update["update_id"]) == "skipped"

    TelegramUpdate.objects.update(processing_until=utc_now() - timedelta(seconds=1))  # the worker died
    assert update_retry(update_id=update["update_id"]).attempts == 0
    assert update_process(update_id=update["update_id"]) == "processed"
    with pytest.raises(UpdateInvalid):
        update_retry(update_id=update["update_id"])


def test_a_retry_pressed_while_a_command_runs_does_not_run_it_twice(bot, monkeypatch):
    """Worker A is inside '/task Buy milk' (claim live); the admin presses "Retry now" and
    worker B picks the update up: the retry is refused, B skips it, one task."""
    update = message("/task Buy milk")
    update_store(payload=update)
    real_handle = conversation.command_handle
    seen = []

    def handle_while_retried(**kwargs):
        with pytest.raises(UpdateInProgress):
            update_retry(update_id=update["update_id"])
        seen.append(update_process(update_id=update["update_id"]))  # worker B
        real_handle(**kwargs)

    monkeypatch.setattr(conversation, "command_handle", handle_while_retried)

    assert update_process(update_id=update["update_id"]) == "processed"
    assert seen == ["skipped"]
    assert Task.objects.count() == 1
    assert (stored(update).status, stored(update).attempts) == (UpdateStatus.PROCESSED, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_from_another_request_never_lets_a_second_worker_in(bot, monkeypatch):
    import threading

    from django.db import connection

    from telegrambot import commands

    update = message("/task Buy milk")
    update_store(payload=update)
    real_reply = commands.command_reply
    outcomes, threads, done = [], [], threading.Event()

    def admin_and_worker_b():
        try:
            try:
                update_retry(update_id=update["update_id"])
                outcomes.append("retried")
            except UpdateInProgress:
                outcomes.append("refused")
            outcomes.append(update_process(update_id=update["update_id"]))
        finally:
            done.set()
            connection.close()

    def slow_reply(**kwargs):  # worker A, mid-way through the command
        if not threads:
            threads.append(threading.Thread(target=admin_and_worker_b))
            threads[0].start()
            done.wait(timeout=3)  # B may block on A's rows: then it goes on once A commits
        return real_reply(**kwargs)

    monkeypatch.setattr(commands, "command_reply", slow_reply)

    assert update_process(update_id=update["update_id"]) == "processed"
    threads[0].join(timeout=30)
    assert outcomes == ["refused", "skipped"]
    assert Task.objects.count() == 1


def test_the_sweep_processes_oldest_first(bot):
    later, earlier = message("/tasks"), message("/status")
    later["update_id"], earlier["update_id"] = 900_002, 900_001
    update_store(payload=later)
    update_store(payload=earlier)
    make_due()

    assert updates_retry_due()["processed"] == 2
    outbox_deliver()
    assert bot.texts(MASTER)[0].startswith("Running")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_handle_one_update_twice(bot, claude):
    update = message("Hello?")
    update_store(payload=update)
    results = run_at_once(lambda: update_process(update_id=update["update_id"]), count=2)

    assert sorted(results) == ["processed", "skipped"]
    assert len(claude.message_requests) == 1
    assert bot.texts(MASTER) == ["ok"]


def test_telegram_being_down_delays_an_update_without_counting_attempts(bot):
    bot.fail(502, method="getMe", times=None)
    update = message("/status")
    update_store(payload=update)

    results = [update_process(update_id=update["update_id"])]
    for _ in range(MAX_ATTEMPTS + 2):
        make_due()
        results += [outcome for outcome, n in updates_retry_due().items() if n]

    assert set(results) == {"retrying"}
    row = stored(update)
    assert (row.status, row.attempts) == (UpdateStatus.RECEIVED, 0)
    assert row.last_error.startswith("Telegram unavailable: ") and "not counted" in row.last_error
    assert TEST_BOT_TOKEN not in row.last_error

    bot.clear_failures()
    make_due()
    assert updates_retry_due()["processed"] == 1
    assert stored(update).attempts == 1
