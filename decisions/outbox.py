"""Outbox writes: every message for the Master is a row first, written in the same
transaction as the change that caused it, and delivered later (telegrambot.delivery)."""

from django.conf import settings
from django.db import transaction

from .models import Approval, Notification, NotificationKind, NotificationStatus

NO_MASTER = "not sent: no Master chat is configured (MASTER_CHAT_IDS is empty)"


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
        import logging

        logging.getLogger(__name__).warning("Could not queue outbox delivery; the periodic sweep will retry")
