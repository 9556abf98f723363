"""A pending approval's one reminder (at APPROVAL_REMINDER_FRACTION of its wait) and its
expiry (recorded as expired, the Master told once), through the every-minute sweep."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from decisions.approvals import approval_approve, approval_ask, approval_reject, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Notification, NotificationKind
from decisions.policy import action_policy_set
from decisions.reminders import approval_remind_due
from decisions.tasks import approval_expire_task
from memory.models import MemoryEntry, MemoryKind
from tests.factories import decision

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def hour_long(settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 3600
    settings.APPROVAL_REMINDER_FRACTION = 0.75


def reminders():
    return Notification.objects.filter(kind=NotificationKind.APPROVAL_REMINDER)


def sweep_at(moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return approval_expire_task()


def ask(action: str = "develop_skill") -> Approval:
    with time_machine.travel(START, tick=False):
        return approval_request_decision(decision=decision(action, certainty=0.5), cycle=None)


def test_one_reminder_at_three_quarters_of_the_wait_not_before_and_once(master):
    approval = ask()
    assert sweep_at(START + timedelta(minutes=44, seconds=59))["reminded"] == 0
    assert not reminders().exists()
    assert sweep_at(START + timedelta(minutes=45))["reminded"] == 1
    assert sweep_at(START + timedelta(minutes=46))["reminded"] == 0
    assert sweep_at(START + timedelta(minutes=59))["reminded"] == 0
    reminder = reminders().get()
    assert reminder.chat_id == 1001 and reminder.approval_id == approval.pk
    assert reminder.idempotency_key == f"approval:{approval.pk}:reminder:1001"
    approval.refresh_from_db()
    assert approval.reminded_at == START + timedelta(minutes=45)
    assert approval.status == ApprovalStatus.PENDING


def test_the_reminder_says_what_is_asked_when_it_expires_and_how_to_answer(master):
    approval = ask()
    sweep_at(START + timedelta(minutes=50))
    text = reminders().get().text
    assert f"approval #{approval.pk} (develop_skill)" in text
    assert "haiku" in text  # the gist: the skill's name
    assert "expires 2026-03-02 10:00 UTC (in 10 min)" in text
    assert f"/approve {approval.pk} or /reject {approval.pk}" in text


def test_a_question_reminder_says_answer(master):
    with time_machine.travel(START, tick=False):
        question = approval_ask(question="Tea or coffee?", cycle=None)
    sweep_at(START + timedelta(minutes=46))
    text = reminders().get().text
    assert "Tea or coffee?" in text and f"/answer {question.pk} <text>" in text


def test_decided_approvals_get_no_reminder(master):
    approved, rejected = ask(), ask()
    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        approval_reject(approval_id=rejected.pk, by="m", via="api")
        approval_approve(approval_id=approved.pk, by="m", via="api")
    sweep_at(START + timedelta(minutes=50))
    assert not reminders().exists()


def test_the_action_timeout_moves_the_reminder(master):
    action_policy_set(action="develop_skill", mode="act_at", approval_timeout_seconds=600, by="m")
    approval = ask()
    assert approval.expires_at == START + timedelta(seconds=600)
    assert sweep_at(START + timedelta(seconds=449))["reminded"] == 0
    assert sweep_at(START + timedelta(seconds=450))["reminded"] == 1
    result = sweep_at(START + timedelta(seconds=600))
    assert result["expired"] == 1
    assert Approval.objects.get().status == ApprovalStatus.EXPIRED


def test_reminders_off_at_fraction_zero(master, settings):
    settings.APPROVAL_REMINDER_FRACTION = 0
    ask()
    assert sweep_at(START + timedelta(minutes=59))["reminded"] == 0
    assert not reminders().exists()


def test_no_reminder_once_expired(master):
    # The sweep was down through the reminder's minute: past the deadline, only the expiry.
    ask()
    result = sweep_at(START + timedelta(hours=2))
    assert (result["expired"], result["reminded"]) == (1, 0)
    assert not reminders().exists()


def test_expiry_is_recorded_as_expired_and_told_once_however_often_the_sweep_runs(master):
    approval = ask()
    first = sweep_at(START + timedelta(hours=1))
    second = sweep_at(START + timedelta(hours=1, minutes=1))
    assert (first["expired"], second["expired"]) == (1, 0)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXPIRED and approval.status != ApprovalStatus.REJECTED
    told = Notification.objects.filter(kind=NotificationKind.APPROVAL_EXPIRED)
    assert told.count() == 1 and "expired unanswered" in told.get().text
    assert MemoryEntry.objects.filter(kind=MemoryKind.OUTCOME, meta__status="expired").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_remind_once_and_expire_once(master):
    approvals = [ask() for _ in range(5)]

    def run_sweeps(moment: datetime) -> list:
        barrier, results, errors = threading.Barrier(4), [], []

        def sweep():
            try:
                barrier.wait()
                with time_machine.travel(moment, tick=False):
                    results.append(approval_expire_task())
            except Exception as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        return results

    reminded = run_sweeps(START + timedelta(minutes=50))
    assert sum(r["reminded"] for r in reminded) == 5
    assert reminders().count() == 5
    expired = run_sweeps(START + timedelta(hours=1, minutes=5))
    assert sum(r["expired"] for r in expired) == 5
    assert Notification.objects.filter(kind=NotificationKind.APPROVAL_EXPIRED).count() == 5
    assert set(Approval.objects.filter(pk__in=[a.pk for a in approvals]).values_list("status", flat=True)) == {"expired"}


def test_remind_due_directly_takes_now():
    assert approval_remind_due(now=START) == 0  # nothing pending, nothing queued
