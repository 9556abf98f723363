"""Outbox rows waiting for missing configuration, for `telegrambot.delivery`.

Missing configuration means waiting, never failing (`decisions.outbox`): with no bot token
nothing is attempted, nothing expires, and the rows stay pending, `last_error` saying they
wait for Telegram (`wait_for_telegram`); the first round with a token releases them
(`release_waiting`) with their maximum age counted from then, and they are sent in order.
Rows written while no Master chat was configured are given to the Masters at the start of
every round (`decisions.outbox.notification_assign_masters`); while MASTER_CHAT_IDS is
empty, `waiting_for_master` says how many wait for one.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet

from decisions.models import Notification, NotificationStatus
from decisions.outbox import WAITING_NO_TELEGRAM

from .models import NotificationDelivery

logger = logging.getLogger(__name__)

NOT_CONFIGURED = "Telegram is not configured (TELEGRAM_BOT_TOKEN is empty)"
RELEASE_CHUNK = 500


def wait_for_telegram() -> str:
    """No bot token: nothing is tried and nothing expires; the pending rows with a chat are
    marked as waiting for Telegram. Returns the round's detail sentence."""
    waiting = _pending_with_chat()
    waiting.exclude(last_error=WAITING_NO_TELEGRAM).update(last_error=WAITING_NO_TELEGRAM)
    count = waiting.count()
    detail = f"{NOT_CONFIGURED}: {count} message(s) waiting"
    if count:
        logger.warning("Outbox not delivered: %s", detail)
    return detail


def release_waiting(now: datetime) -> int:
    """The first round with a token: the rows that waited for it are due now, their maximum
    age counted from now (not from when they were written), `last_error` cleared."""
    released = 0
    while True:
        ids = list(
            _pending_with_chat().filter(last_error=WAITING_NO_TELEGRAM).order_by("id").values_list("id", flat=True)[
                :RELEASE_CHUNK
            ]
        )
        if not ids:
            break
        with transaction.atomic():
            NotificationDelivery.objects.bulk_create(
                [NotificationDelivery(notification_id=i, window_started_at=now) for i in ids], ignore_conflicts=True
            )
            NotificationDelivery.objects.filter(notification_id__in=ids).update(window_started_at=now)
            released += Notification.objects.filter(pk__in=ids, last_error=WAITING_NO_TELEGRAM).update(
                last_error="", next_attempt_at=now
            )
    if released:
        logger.info("Telegram is configured: %s waiting message(s) released for delivery", released)
    return released


def waiting_for_master() -> str:
    """The detail sentence when pending rows have no chat (only while MASTER_CHAT_IDS is
    empty: `notification_assign_masters` gave them to the Masters otherwise); "" if none."""
    nobody = Notification.objects.filter(status=NotificationStatus.PENDING, chat_id__isnull=True).count()
    if not nobody:
        return ""
    return f"no Master chat configured (MASTER_CHAT_IDS is empty): {nobody} message(s) waiting"


def _pending_with_chat() -> QuerySet[Notification]:
    return Notification.objects.filter(status=NotificationStatus.PENDING, chat_id__isnull=False)
