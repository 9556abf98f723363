"""Reads of the Telegram app, each bounded."""

from datetime import datetime

from django.conf import settings
from django.db.models import Q

from decisions.models import Approval, ApprovalKind, Notification

from .models import ChatMessage, Direction, MessageKind, TelegramUpdate, UpdateStatus


def is_master_chat(chat_id: int | None) -> bool:
    """A chat listed in MASTER_CHAT_IDS (read at call time, so tests and reloads see changes)."""
    return chat_id is not None and chat_id in settings.MASTER_CHAT_IDS


def chat_history(*, chat_id: int, limit: int | None = None, upto_id: int | None = None) -> list[ChatMessage]:
    """The chat's last `limit` conversation messages with the Master (default
    MESSAGE_HISTORY_LIMIT), oldest first. Commands, answers, error replies and anything
    from before the chat was a Master's are not conversation.

    With `upto_id` (the message being answered), only rows stored up to it: a message
    the Master sent just after it, handled at the same time, is not part of its context."""
    limit = settings.MESSAGE_HISTORY_LIMIT if limit is None else limit
    if limit <= 0:
        return []
    rows = ChatMessage.objects.filter(chat_id=chat_id, kind=MessageKind.CHAT, is_master=True)
    if upto_id is not None:
        rows = rows.filter(id__lte=upto_id)
    rows = rows.order_by("-created_at", "-id")
    return list(reversed(rows[:limit]))


def chat_reply_exists(*, update_id: int) -> bool:
    return ChatMessage.objects.filter(update_id=update_id, direction=Direction.OUT).exists()


def question_for_reply(*, chat_id: int, message_id: int) -> Approval | None:
    """The question whose message (sent to `chat_id` as `message_id`) is being replied to."""
    notification = (
        Notification.objects.filter(
            chat_id=chat_id,
            telegram_message_id=message_id,
            approval__isnull=False,
            approval__kind=ApprovalKind.QUESTION,
        )
        .select_related("approval")
        .order_by("-id")
        .first()
    )
    return notification.approval if notification else None


def updates_due(*, now: datetime, limit: int) -> list[int]:
    """Update ids the retry sweep should (re)process, oldest first: still received, their
    next attempt due, and not claimed by a live worker."""
    return list(
        TelegramUpdate.objects.filter(status=UpdateStatus.RECEIVED, next_attempt_at__lte=now)
        .filter(Q(processing_until__isnull=True) | Q(processing_until__lt=now))
        .order_by("update_id")
        .values_list("update_id", flat=True)[:limit]
    )
