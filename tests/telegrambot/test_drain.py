"""A worker's task drains the stored updates in batches: one claim statement per batch,
the updates handled in order, each reply written leased to the worker (sent without a
claim) and the update marked processed in the reply's own transaction; the rules of the
inbox (leases, backoff, Telegram down) and of the outbox (head of line, "Retry now") hold."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agentsite.core.clock import utc_now
from bench._common import SqlCount
from decisions.models import Notification, NotificationStatus
from decisions.outbox import notification_enqueue, notification_retry, outbox_delivery_deferred
from telegrambot.delivery import outbox_deliver
from telegrambot.models import BotState, NotificationDelivery, TelegramUpdate, UpdateStatus
from telegrambot.replies import reply_lease
from telegrambot.tasks import update_process_task
from telegrambot.updates import _queue_processing, processing_lease, update_store, updates_drain
from tests.concurrency import run_at_once
from tests.conftest import TEST_BOT_TOKEN
from tests.telegrambot._support import MASTER, message, stored

pytestmark = pytest.mark.django_db


def _store(*texts: str) -> list[dict]:
    payloads = [message(text) for text in texts]
    for payload in payloads:
        update_store(payload=payload)
    return payloads


def _claims(queries) -> int:
    return sum(q["sql"].startswith('UPDATE "telegrambot_telegramupdate" SET processing_until') for q in queries)


@pytest.mark.django_db(transaction=True)  # real commits: the leased replies' fast path
def test_a_batch_is_one_claim_handled_in_order_with_two_commits_per_update(bot, no_model_calls):
    BotState.objects.create(bot_id=TEST_BOT_TOKEN.partition(":")[0])
    payloads = _store("/task first", "/task second", "/task third", "/tasks", "/status")

    with SqlCount() as count, CaptureQueriesContext(connection) as queries:
        report = updates_drain(batch=20)

    assert report == {"processed": 5, "retrying": 0, "failed": 0, "skipped": 0}
    assert all(stored(p).status == UpdateStatus.PROCESSED and stored(p).attempts == 1 for p in payloads)
    texts = bot.texts(MASTER)
    assert [t.split(":")[1].strip() for t in texts[:3]] == ["first", "second", "third"]
    assert "first" in texts[3] and "third" in texts[3] and texts[4].startswith("Running")
    assert _claims(queries.captured_queries) == 1  # one statement claimed the batch
    sql = [q["sql"] for q in queries.captured_queries]
    assert not any("FOR UPDATE" in s and "decisions_notification" in s for s in sql)  # no claim of a reply
    # Per update: the reply's transaction (message, reply, outbox row, processed mark) and its sent write.
    assert count.commits == 1 + 2 * len(payloads)
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 5
    print(f"\n{count.total} statements, {count.commits} commits for {len(payloads)} updates: {count.kinds_text()}")


def test_the_task_drains_every_waiting_update_and_says_so(bot, no_model_calls):
    payloads = _store("/status", "/status", "/tasks")

    assert update_process_task(payloads[0]["update_id"]).endswith("3 processed")
    assert update_process_task(payloads[1]["update_id"]).endswith("skipped")  # taken by the first
    assert len(bot.texts(MASTER)) == 3


def test_a_reply_waits_behind_an_earlier_message_of_its_chat(bot, no_model_calls):
    BotState.objects.create(bot_id=TEST_BOT_TOKEN.partition(":")[0])
    [earlier] = notification_enqueue(kind="message", text="written first", key="earlier", chat_id=MASTER)
    _store("/status")

    assert updates_drain()["processed"] == 1

    assert bot.texts(MASTER)[0] == "written first"  # the chat's order kept
    assert bot.texts(MASTER)[1].startswith("Running")
    assert Notification.objects.get(pk=earlier.pk).status == NotificationStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_a_committed_reply_behind_a_message_nobody_sends_goes_after_it(bot, no_model_calls):
    BotState.objects.create(bot_id=TEST_BOT_TOKEN.partition(":")[0])
    [earlier] = notification_enqueue(kind="message", text="written first", key="earlier", chat_id=MASTER)
    _store("/status")

    assert updates_drain()["processed"] == 1

    assert bot.texts(MASTER)[0] == "written first" and bot.texts(MASTER)[1].startswith("Running")
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_committed_reply_waits_for_an_earlier_message_in_flight(bot, no_model_calls, monkeypatch):
    """Another worker is sending the chat's earlier message (leased to it): the reply waits
    for its turn, then goes without a claim."""
    import threading

    from telegrambot import replies

    BotState.objects.create(bot_id=TEST_BOT_TOKEN.partition(":")[0])
    earlier = Notification.objects.create(kind="message", text="in flight", idempotency_key="earlier", chat_id=MASTER,
                                          next_attempt_at=utc_now() + timedelta(seconds=60))  # another worker's lease
    sent_at = []

    def other_worker_sent():
        sent_at.append(utc_now())
        Notification.objects.filter(pk=earlier.pk).update(status=NotificationStatus.SENT)
        connection.close()

    done = threading.Timer(0.3, other_worker_sent)
    monkeypatch.setattr(replies, "TURN_WAIT_SECONDS", 5.0)
    _store("/status")

    done.start()
    assert updates_drain()["processed"] == 1
    done.join()

    assert len(bot.texts(MASTER)) == 1 and bot.texts(MASTER)[0].startswith("Running")  # once the earlier one was sent
    assert Notification.objects.exclude(pk=earlier.pk).get().sent_at > sent_at[0]  # not before its turn
    assert not NotificationDelivery.objects.exists()  # no claim was needed


def test_retry_now_keeps_a_reply_leased_to_the_worker_sending_it(bot):
    BotState.objects.create(bot_id=TEST_BOT_TOKEN.partition(":")[0])
    with outbox_delivery_deferred(lease=reply_lease) as deferred:
        [row] = notification_enqueue(kind="message", text="in flight", key="leased", chat_id=MASTER)
    [(_, lease, _)] = deferred.leased
    assert row.next_attempt_at == lease.until > utc_now()

    notification_retry(notification_id=row.pk)  # "Retry now" while the worker sends it

    assert Notification.objects.get(pk=row.pk).next_attempt_at == lease.until  # still the worker's alone
    assert outbox_deliver()["sent"] == 0 and bot.sent_messages == []


def test_a_paused_bot_leases_nothing(bot):
    BotState.objects.create(bot_id=TEST_BOT_TOKEN.partition(":")[0], paused_until=utc_now() + timedelta(seconds=30))
    assert reply_lease(chat_id=MASTER, text="hello") is None


def test_the_time_budget_gives_the_rest_back_and_queues_a_task(bot, no_model_calls, django_capture_on_commit_callbacks):
    payloads = _store("/status", "/status")

    with django_capture_on_commit_callbacks() as callbacks:
        assert updates_drain(time_budget_seconds=-1) == {"processed": 0, "retrying": 0, "failed": 0, "skipped": 0}

    assert all((stored(p).attempts, stored(p).processing_until) == (0, None) for p in payloads)
    assert [c.func for c in callbacks] == [_queue_processing]  # a task for the rest, not a wait for the sweep
    assert updates_drain()["processed"] == 2


def test_updates_held_too_long_behind_a_slow_one_are_given_back_for_another_worker(
    bot, no_model_calls, django_capture_on_commit_callbacks
):
    payloads = _store("/status", "/tasks", "/status")

    with django_capture_on_commit_callbacks() as callbacks:
        assert updates_drain(hold_seconds=-1)["processed"] == 3  # each claim keeps only what it starts at once

    queued = [c for c in callbacks if getattr(c, "func", None) is _queue_processing]
    assert len(queued) == 2  # the rest given back twice, each time with a task queued for it
    assert all(stored(p).attempts == 1 for p in payloads)  # giving back counted no attempt
    assert bot.texts(MASTER)[1].startswith("No open tasks")  # still in order


def test_telegram_down_stops_the_batch_and_counts_no_attempt(bot):
    bot.fail(502, method="getMe", times=None)
    payloads = _store("/status", "/status", "/status")

    assert updates_drain() == {"processed": 0, "retrying": 1, "failed": 0, "skipped": 0}

    assert len(bot.calls("getMe")) == 1  # the batch stopped at the first
    for payload in payloads:
        row = stored(payload)
        assert (row.status, row.attempts, row.processing_until) == (UpdateStatus.RECEIVED, 0, None)
        assert row.last_error.startswith("Telegram unavailable: ") and row.next_attempt_at > utc_now()
    assert updates_drain()["retrying"] == 0  # they wait out the minute, not retried at once


def test_updates_held_or_backing_off_are_not_taken(bot, no_model_calls):
    held, backing_off, new = _store("/status", "/status", "/status")
    TelegramUpdate.objects.filter(update_id=held["update_id"]).update(processing_until=utc_now() + processing_lease())
    TelegramUpdate.objects.filter(update_id=backing_off["update_id"]).update(
        attempts=1, last_error="attempt 1 of 5 failed", next_attempt_at=utc_now() + timedelta(seconds=30))

    assert updates_drain()["processed"] == 1

    assert stored(new).status == UpdateStatus.PROCESSED
    assert stored(held).status == stored(backing_off).status == UpdateStatus.RECEIVED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_at_once_handle_each_update_once(bot, no_model_calls):
    payloads = _store(*[f"/task job {i}" for i in range(30)])

    def worker():
        try:
            return updates_drain(batch=4)
        finally:
            connection.close()

    reports = run_at_once(worker, count=2)

    assert sum(r["processed"] for r in reports) == 30
    assert all(stored(p).attempts == 1 and stored(p).status == UpdateStatus.PROCESSED for p in payloads)
    assert len(bot.texts(MASTER)) == 30 and len(set(bot.texts(MASTER))) == 30
