"""Outbox writes: every message for the Master is a row first, written in the same
transaction as the change that caused it, and delivered later (telegrambot.delivery)."""

import logging

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal

from budget.clock import utc_now

from .errors import NotificationNotFound, NotificationNotRetryable
from .models import Approval, Notification, NotificationKind, NotificationStatus

logger = logging.getLogger(__name__)

NO_MASTER = "not sent: no Master chat is configured (MASTER_CHAT_IDS is empty)"

# Sent by `notification_retry` inside its transaction, the row locked, with `notification`
# and `now`: the transport (telegrambot, which this layer must not import) restarts the
# row's maximum age and keeps a send in flight from being doubled.
notification_requeued = Signal()


@transaction.atomic
def notification_enqueue(
    *,
    kind: str,
    text: str,
    key: str,
    chat_id: int | None = None,
    reply_markup: dict | None = None,
    approval: Approval | None = None,
) -> list[Notification]:
    """Queue `text` for `chat_id`, or for every Master when no chat is given.

    `key` makes it idempotent: enqueueing the same key again returns the existing rows.
    With no Master configured, one row records that nothing was sent and why.
    """
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind: {kind!r}")
    recipients = [chat_id] if chat_id is not None else list(settings.MASTER_CHAT_IDS)
    if not recipients:
        row, _ = Notification.objects.get_or_create(
            idempotency_key=f"{key}:nobody",
            defaults={
                "kind": kind, "text": text, "chat_id": None, "status": NotificationStatus.FAILED,
                "last_error": NO_MASTER, "reply_markup": reply_markup, "approval": approval,
            },
        )
        return [row]
    rows = []
    for recipient in recipients:
        row, _ = Notification.objects.get_or_create(
            idempotency_key=f"{key}:{recipient}",
            defaults={
                "kind": kind, "text": text, "chat_id": recipient, "reply_markup": reply_markup,
                "approval": approval,
            },
        )
        rows.append(row)
    if any(row.status == NotificationStatus.PENDING for row in rows):
        transaction.on_commit(_schedule_delivery)
    return rows


def _schedule_delivery() -> None:
    """Ask a worker to deliver now (the periodic sweep catches anything this misses)."""
    from django_q.tasks import async_task

    try:
        async_task("telegrambot.tasks.outbox_deliver_task", task_name="outbox-deliver", group="outbox")
    except Exception:  # the broker being down must not undo the change that queued the message
        logger.warning("Could not queue outbox delivery; the periodic sweep will retry")


@transaction.atomic
def notification_retry(*, notification_id: int) -> Notification:
    """Put a failed (or waiting) notification back in the queue, due now (or when a send in
    flight ends), with a fresh set of attempts and a fresh maximum age; delivery is queued
    when the transaction commits."""
    row = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if row is None:
        raise NotificationNotFound(notification_id=notification_id)
    if row.status == NotificationStatus.SENT:
        raise NotificationNotRetryable(
            f"Notification #{row.pk} was already sent", notification_id=row.pk, status=row.status
        )
    if row.chat_id is None:
        raise NotificationNotRetryable(
            f"Notification #{row.pk} has no chat to send to (no Master was configured when it was written)",
            notification_id=row.pk,
            status=row.status,
        )
    now = utc_now()
    row.status = NotificationStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now
    row.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    notification_requeued.send(sender=Notification, notification=row, now=now)
    logger.info("Notification #%s queued again for chat %s", row.pk, row.chat_id)
    transaction.on_commit(_schedule_delivery)
    return row
