"""Helpers for the Telegram app's tests (the fake and the `telegram` fixture live in tests/conftest.py)."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import Notification, NotificationStatus

_keys = itertools.count(1)


def pending(text: str, *, chat_id: int | None = 1001, **fields) -> Notification:
    """A pending outbox row, written directly (no delivery is queued)."""
    return Notification.objects.create(
        chat_id=chat_id, text=text, kind=fields.pop("kind", "message"),
        idempotency_key=fields.pop("idempotency_key", f"test:{next(_keys)}:{chat_id}"), **fields,
    )


@pytest.fixture
def make_due():
    """Move every pending row's next attempt into the past (instead of sleeping)."""

    def _make_due() -> int:
        return Notification.objects.filter(status=NotificationStatus.PENDING).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )

    return _make_due
