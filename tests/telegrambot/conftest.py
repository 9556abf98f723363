"""Helpers for the Telegram app's tests (the fake and the `telegram` fixture live in tests/conftest.py)."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import Approval, ApprovalKind, Notification, NotificationStatus
from telegrambot.delivery import outbox_deliver
from tests.telegrambot._support import WEBHOOK_SECRET

_keys = itertools.count(1)


def pending(text: str, *, chat_id: int | None = 1001, **fields) -> Notification:
    """A pending outbox row, written directly (no delivery is queued)."""
    return Notification.objects.create(
        chat_id=chat_id, text=text, kind=fields.pop("kind", "message"),
        idempotency_key=fields.pop("idempotency_key", f"test:{next(_keys)}:{chat_id}"), **fields,
    )


def decision_approval() -> Approval:
    """A pending decision for the Master, with no message written for it yet."""
    return Approval.objects.create(kind=ApprovalKind.DECISION, action="develop_skill", payload={},
                                   expires_at=timezone.now() + timedelta(hours=1))


def decision_keyboard(approval_id: int) -> dict:
    """The buttons of a decision's request as Telegram receives them."""
    return {"inline_keyboard": [[{"text": "Approve", "callback_data": f"approve:{approval_id}"},
                                 {"text": "Reject", "callback_data": f"reject:{approval_id}"}]]}


@pytest.fixture
def bot(telegram, claude, settings):
    """Telegram (Master 1001, a webhook secret, no webhook URL) and Claude configured against
    the fakes; the Telegram fake."""
    settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.TELEGRAM_WEBHOOK_URL = ""
    return telegram


@pytest.fixture
def no_model_calls(claude):
    """For tests where nothing may reach the model (commands, taps, strangers)."""
    yield
    assert claude.message_requests == [], "the model was called"


@pytest.fixture
def make_due():
    """Move every pending row's next attempt into the past (instead of sleeping)."""

    def _make_due() -> int:
        return Notification.objects.filter(status=NotificationStatus.PENDING).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )

    return _make_due


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
