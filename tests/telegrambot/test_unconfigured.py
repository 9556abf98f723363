"""Telegram left unconfigured means "waiting", never "failed": with no bot token, or no
Master chat, messages stay queued (and never expire), the dashboard and the admin say
they wait, an action's result says it was only queued, and configuring Telegram later
delivers them, once each, in order."""

import pytest
import time_machine
from django.utils import timezone

from agentsite.dashboard import dashboard_data
from decisions.approvals import approval_approve, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Notification, NotificationStatus
from decisions.outbox import (
    LEGACY_NO_MASTER, WAITING_NO_MASTER, WAITING_NO_TELEGRAM, notification_enqueue, notification_retry,
)
from decisions.errors import NotificationNotRetryable
from decisions.services import cycle_run
from memory.models import MemoryEntry, MemoryKind
from telegrambot.delivery import outbox_deliver
from tests.concurrency import run_at_once
from tests.conftest import TEST_BOT_TOKEN
from tests.factories import decision, decision_text

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/agent/"
DAY = 24 * 3600


@pytest.fixture
def no_token(telegram, settings):
    """The `telegram` fake and one Master (1001), but no bot token yet; returns the fake.
    `settings.TELEGRAM_BOT_TOKEN = TEST_BOT_TOKEN` configures it later."""
    settings.TELEGRAM_BOT_TOKEN = ""
    settings.NOTIFICATION_MAX_AGE_SECONDS = 7 * DAY
    return telegram


def statuses() -> list[str]:
    return list(Notification.objects.order_by("id").values_list("status", flat=True))


# --- no bot token ----------------------------------------------------------------------


def test_without_a_token_messages_wait_a_month_then_go_out_once_in_order(no_token, settings, client, admin_user):
    texts = ["first", "second", "third"]
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for i, text in enumerate(texts):
            notification_enqueue(kind="message", text=text, key=f"wait:{i}")
            clock.shift(1)
        for _ in range(30):  # a sweep a day for 30 days: far past the 7-day maximum age
            report = outbox_deliver()
            assert (report["configured"], report["failed"], report["sent"]) == (False, 0, 0)
            clock.shift(DAY)

        assert statuses() == [NotificationStatus.PENDING] * 3  # never failed, never expired
        assert set(Notification.objects.values_list("last_error", flat=True)) == {WAITING_NO_TELEGRAM}
        assert report["detail"] == "Telegram is not configured (TELEGRAM_BOT_TOKEN is empty): 3 message(s) waiting"
        data = dashboard_data(now=timezone.now())
        assert data["failed_notifications"] == 0
        assert data["waiting_no_telegram_text"] == "Telegram is not configured: 3 messages waiting"
        client.force_login(admin_user)  # a month on: a fresh session
        html = client.get(DASHBOARD).content.decode()
        assert "Telegram is not configured: 3 messages waiting" in html
        assert str(Notification.objects.first()) == "Message to 1001 (waiting: Telegram not configured)"
        changelist = client.get("/admin/decisions/notification/").content.decode()
        assert changelist.count('<td class="field-state">waiting: Telegram not configured</td>') == 3
        assert no_token.requests == []

        settings.TELEGRAM_BOT_TOKEN = TEST_BOT_TOKEN  # 30 days later: its age starts now
        report = outbox_deliver()
        again = outbox_deliver()

    assert (report["sent"], report["failed"], again["sent"]) == (3, 0, 0)
    assert no_token.texts() == texts  # each exactly once, in the order written
    assert statuses() == [NotificationStatus.SENT] * 3
    assert set(Notification.objects.values_list("last_error", flat=True)) == {""}
    assert dashboard_data()["waiting_no_telegram_text"] == ""


def test_once_a_token_is_set_the_maximum_age_counts_from_then(no_token, settings, make_due):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        [row] = notification_enqueue(kind="message", text="patient", key="patient")
        clock.shift(20 * DAY)
        outbox_deliver()
        settings.TELEGRAM_BOT_TOKEN = TEST_BOT_TOKEN
        no_token.fail(502, times=None, method="sendMessage")
        outbox_deliver()  # released and tried: 20 days old, but its 7 days start now
        row.refresh_from_db()
        assert (row.status, row.attempts) == (NotificationStatus.PENDING, 1)

        clock.shift(6 * DAY)
        make_due()
        outbox_deliver()
        row.refresh_from_db()
        assert row.status == NotificationStatus.PENDING
        clock.shift(DAY + 60)
        outbox_deliver()
        row.refresh_from_db()
        assert row.status == NotificationStatus.FAILED and row.last_error.startswith("expired after")


def test_an_approved_communicate_says_queued_not_told(no_token, settings, django_capture_on_commit_callbacks):
    approval = approval_request_decision(
        decision=decision("communicate", certainty=0.5, message="The report is done."), cycle=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(approval_id=approval.pk, by="master", via="admin")

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    summary = approval.result["summary"]
    assert "queued for the Master (Telegram not configured yet)" in summary and "not delivered" in summary
    assert approval.result["delivery"] == "queued for the Master (Telegram not configured yet), not delivered"
    outcome = MemoryEntry.objects.filter(kind=MemoryKind.OUTCOME, meta__status="executed").get()
    assert "queued for the Master (Telegram not configured yet)" in outcome.content
    assert not MemoryEntry.objects.filter(content__icontains="told the Master").exists()
    message = Notification.objects.get(text="The report is done.")
    assert (message.status, message.chat_id) == (NotificationStatus.PENDING, 1001)

    settings.TELEGRAM_BOT_TOKEN = TEST_BOT_TOKEN
    outbox_deliver()
    assert "The report is done." in no_token.texts()


def test_with_telegram_configured_the_result_carries_no_queue_note(telegram, django_capture_on_commit_callbacks):
    approval = approval_request_decision(decision=decision("communicate", certainty=0.5), cycle=None)
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(approval_id=approval.pk, by="master", via="admin")
    approval.refresh_from_db()
    assert approval.result["summary"] == "message for the Master: All is well."
    assert "delivery" not in approval.result


def test_a_cycle_that_asks_or_reports_remembers_it_as_queued(no_token, claude):
    claude.reply_text(decision_text(action="ask_master", certainty=0.95, significance=0.9))
    cycle = cycle_run().cycle
    assert cycle.executed and "queued for the Master (Telegram not configured yet)" in cycle.result["summary"]
    assert cycle.result["summary"].startswith("question for the Master: Which task first?")
    summary = MemoryEntry.objects.get(kind=MemoryKind.CYCLE_SUMMARY, cycle_id=cycle.pk)
    assert "queued for the Master (Telegram not configured yet)" in summary.content
    # The significant-result report the Master will read does not carry the note.
    report = Notification.objects.get(kind="significant_result")
    assert "not configured" not in report.text and report.status == NotificationStatus.PENDING


# --- no Master chat -------------------------------------------------------------------------


def test_with_no_master_a_message_waits_then_goes_to_each_master_once(telegram, settings, client, admin_user):
    settings.MASTER_CHAT_IDS = []
    settings.NOTIFICATION_MAX_AGE_SECONDS = 7 * DAY
    with time_machine.travel(timezone.now(), tick=False) as clock:
        [row] = notification_enqueue(kind="message", text="anyone there?", key="lonely")
        clock.shift(1)
        [second] = notification_enqueue(kind="message", text="still here", key="lonely-2")
        assert notification_enqueue(kind="message", text="anyone there?", key="lonely") == [row]  # idempotent
        for _ in range(30):
            report = outbox_deliver()
            assert (report["sent"], report["failed"]) == (0, 0)
            clock.shift(DAY)

        row.refresh_from_db()
        assert (row.status, row.chat_id, row.last_error) == (NotificationStatus.PENDING, None, WAITING_NO_MASTER)
        assert str(row) == "Message (waiting: no Master chat configured)"
        assert "None" not in str(row)
        data = dashboard_data(now=timezone.now())
        assert (data["failed_notifications"], data["waiting_no_master_text"]) == (
            0, "No Master chat configured: 2 messages waiting"
        )
        client.force_login(admin_user)
        assert "No Master chat configured: 2 messages waiting" in client.get(DASHBOARD).content.decode()
        with pytest.raises(NotificationNotRetryable):
            notification_retry(notification_id=row.pk)

        settings.MASTER_CHAT_IDS = [1001, 1002]  # a month later
        report = outbox_deliver()
        assert (report["sent"], report["failed"]) == (4, 0)
        assert outbox_deliver()["sent"] == 0
        # Enqueueing the same key again finds the delivered rows: nothing is sent twice.
        assert {r.chat_id for r in notification_enqueue(kind="message", text="anyone there?", key="lonely")} == {
            1001, 1002
        }
        assert outbox_deliver()["sent"] == 0

    sent = [(m["chat_id"], m["text"]) for m in telegram.sent_messages]
    assert sorted(sent) == sorted([(c, t) for c in (1001, 1002) for t in ("anyone there?", "still here")])
    for chat in (1001, 1002):  # in order within each chat
        assert [t for c, t in sent if c == chat] == ["anyone there?", "still here"]
    assert Notification.objects.filter(chat_id__isnull=True).count() == 0
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SENT}


def test_a_new_message_waits_behind_those_written_before_the_master_was_configured(telegram, settings):
    settings.MASTER_CHAT_IDS = []
    notification_enqueue(kind="message", text="old news", key="old")
    settings.MASTER_CHAT_IDS = [1001]
    notification_enqueue(kind="message", text="new news", key="new")  # assigns the held one first

    outbox_deliver()

    assert telegram.texts() == ["old news", "new news"]


def test_an_approval_request_written_with_no_master_keeps_its_buttons(telegram, settings):
    settings.MASTER_CHAT_IDS = []
    approval = approval_request_decision(decision=decision("develop_skill", certainty=0.5), cycle=None)
    settings.MASTER_CHAT_IDS = [1001]

    outbox_deliver()

    [message] = telegram.sent_messages
    assert message["chat_id"] == 1001 and f"Approval needed (#{approval.pk})" in message["text"]
    assert "reply_markup" in message and Approval.objects.get().notifications.get().chat_id == 1001


def test_a_failed_nobody_row_of_an_earlier_version_is_delivered_too(telegram, settings):
    Notification.objects.create(
        chat_id=None, text="from before", kind="message", status=NotificationStatus.FAILED,
        last_error=LEGACY_NO_MASTER, idempotency_key="legacy:nobody",
    )
    assert dashboard_data()["failed_notifications"] == 0
    assert dashboard_data()["waiting_no_master"] == 1

    outbox_deliver()  # MASTER_CHAT_IDS = [1001] (the `telegram` fixture)

    assert telegram.texts() == ["from before"]
    row = Notification.objects.get()
    assert (row.status, row.chat_id, row.idempotency_key) == (NotificationStatus.SENT, 1001, "legacy:1001")


def test_no_master_and_no_token_wait_for_both(no_token, settings):
    settings.MASTER_CHAT_IDS = []
    notification_enqueue(kind="message", text="patience", key="both")
    settings.MASTER_CHAT_IDS = [1001]
    outbox_deliver()  # assigned to the Master, still waiting for a token
    row = Notification.objects.get()
    assert (row.chat_id, row.status, row.last_error) == (1001, NotificationStatus.PENDING, WAITING_NO_TELEGRAM)
    assert dashboard_data()["waiting_no_telegram_text"] == "Telegram is not configured: 1 message waiting"

    settings.TELEGRAM_BOT_TOKEN = TEST_BOT_TOKEN
    outbox_deliver()
    assert no_token.texts() == ["patience"]



@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_held_messages_are_assigned_and_sent_once_by_competing_workers(telegram, settings):
    settings.MASTER_CHAT_IDS = []
    texts = [f"held {i}" for i in range(6)]
    for i, text in enumerate(texts):
        notification_enqueue(kind="message", text=text, key=f"held:{i}")
    settings.MASTER_CHAT_IDS = [1001, 1002]
    telegram.slow(0.02, times=None, method="sendMessage")
    run_at_once(outbox_deliver, count=4, timeout=60)  # a worker's error is raised here
    outbox_deliver()  # whatever a skipped lock left for the next round

    sent = [(m["chat_id"], m["text"]) for m in telegram.sent_messages]
    assert sorted(sent) == sorted((chat, text) for chat in (1001, 1002) for text in texts)  # each exactly once
    for chat in (1001, 1002):
        assert [t for c, t in sent if c == chat] == texts  # in order
    assert Notification.objects.count() == 12
