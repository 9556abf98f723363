"""The lean path: one long-lived Telegram runtime per process (one getMe, one Bot for the
handlers and the outbox), replies sent by the worker that handled the update (no delivery
task per message), and the webhook's single INSERT."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.models import Notification, NotificationStatus
from decisions.outbox import _schedule_delivery, notification_enqueue, outbox_delivery_deferred
from telegrambot import runtime
from telegrambot.models import TelegramUpdate
from telegrambot.runtime import telegram_runtime, telegram_runtime_reset
from telegrambot.updates import update_store
from tests.telegrambot._support import MASTER, WEBHOOK_SECRET, handle, message, stored

pytestmark = pytest.mark.django_db


def test_one_getme_for_many_updates_and_their_replies(bot, no_model_calls):
    for text in ("/status", "/tasks", "/status"):
        assert handle(message(text), deliver=False) == "processed"

    assert len(bot.calls("getMe")) == 1
    assert len(bot.texts(MASTER)) == 3  # each reply sent by the worker that handled its update


def test_a_worker_sends_its_reply_itself_without_queueing_a_delivery_task(
    bot, no_model_calls, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        assert handle(message("/status"), deliver=False) == "processed"

    assert _schedule_delivery not in callbacks  # no outbox_deliver task queued for the reply
    assert len(bot.texts(MASTER)) == 1
    assert Notification.objects.get().status == NotificationStatus.SENT


def test_deferred_enqueues_ask_once_and_queue_no_task(bot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, outbox_delivery_deferred() as deferred:
        assert not deferred.wanted
        notification_enqueue(kind="message", text="one", key="a")
        notification_enqueue(kind="message", text="two", key="b")

    assert deferred.wanted and callbacks == []

    with django_capture_on_commit_callbacks() as callbacks:
        notification_enqueue(kind="message", text="three", key="c")
    assert len(callbacks) == 1  # outside: a delivery task once committed, as before


def test_a_changed_setting_builds_a_new_runtime_and_closes_the_old(bot, settings):
    first = telegram_runtime()
    assert telegram_runtime() is first

    settings.TELEGRAM_REQUEST_TIMEOUT_SECONDS = 3
    second = telegram_runtime()

    assert second is not first and second.config.timeout == 3
    assert first._loop.is_closed()  # its thread stopped, its loop closed
    telegram_runtime_reset()
    assert second._loop.is_closed()


def test_a_forked_process_builds_its_own_and_leaves_the_parents_alone(bot, monkeypatch):
    parent = telegram_runtime()
    monkeypatch.setattr(runtime.os, "getpid", lambda: parent.pid + 1)  # as seen in a forked child

    child = telegram_runtime()

    assert child is not parent and child.pid == parent.pid + 1
    assert not parent._loop.is_closed()  # never touched from the "child"
    monkeypatch.undo()
    parent.close()
    child.close()


def test_the_handlers_database_work_runs_on_the_callers_thread(bot, no_model_calls):
    """Inside the caller's transaction: what a handler writes is rolled back with it."""
    from django.db import transaction

    payload = message("/task Buy milk")
    with transaction.atomic():
        handle(payload, deliver=False)
        assert stored(payload).status == "processed"
        transaction.set_rollback(True)
    assert not TelegramUpdate.objects.filter(update_id=payload["update_id"]).exists()


def _statements(queries) -> list[str]:
    """The statements' first words, savepoints (and rolling back to one) left out (the test runs inside a transaction;
    in autocommit there are none)."""
    words = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    return [w for w in words if w not in ("SAVEPOINT", "RELEASE", "ROLLBACK")]


def test_the_webhook_stores_a_new_update_with_one_insert(client, bot, django_capture_on_commit_callbacks):
    payload = message("/status")
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": WEBHOOK_SECRET}

    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as queries:
        response = client.post("/telegram/webhook/", data=json.dumps(payload), content_type="application/json",
                               **headers)

    assert response.status_code == 200
    assert _statements(queries) == ["INSERT"]
    assert len(callbacks) == 1  # the processing task, queued once committed
    assert stored(payload).status == "received"

    with CaptureQueriesContext(connection) as queries:
        update, created = update_store(payload=payload)  # redelivered: refused, then read
    assert not created and update.update_id == payload["update_id"]
    assert _statements(queries) == ["INSERT", "SELECT"]
