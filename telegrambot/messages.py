"""The chat's record: every message in and out of a chat is a ChatMessage, and the one
reply to an update goes out through the outbox (`reply_send` →
`decisions.outbox.notification_enqueue`), keyed on the update, so a Telegram outage
delays a reply but never loses it, and a retried update never answers twice.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from decisions.models import NotificationKind
from decisions.outbox import notification_enqueue

from .models import ChatMessage, Direction
from .processing import update_done_in_transaction
from .storable import text_storable

INBOUND_TEXT_MAX_CHARS = 8192


@dataclass(frozen=True)
class Sender:
    """Who wrote an inbound message (as much as Telegram tells)."""

    user_id: int | None = None
    username: str = ""
    first_name: str = ""

    @property
    def name(self) -> str:
        """For decided_by: the Telegram username, else the user id."""
        return self.username or (str(self.user_id) if self.user_id is not None else "telegram")


def chat_message_record(**kwargs) -> ChatMessage:
    """Store a message of a chat (`chat_message_store`'s arguments); the row."""
    return chat_message_store(**kwargs)[0]


def chat_message_store(
    *,
    chat_id: int,
    direction: str,
    text: str,
    kind: str,
    is_master: bool,
    update_id: int | None = None,
    sender: Sender | None = None,
    telegram_message_id: int | None = None,
    reply_to_message_id: int | None = None,
) -> tuple[ChatMessage, bool]:
    """Store a message of a chat; with an update_id, at most one per direction (a retried
    update returns the row stored the first time). Returns (row, created)."""
    sender = sender or Sender()
    text = text_storable(text)
    if direction == Direction.IN:
        text = text[:INBOUND_TEXT_MAX_CHARS]
    fields = {
        "chat_id": chat_id, "direction": direction, "text": text, "kind": kind, "is_master": is_master,
        "user_id": sender.user_id, "username": text_storable(sender.username)[:64],
        "first_name": text_storable(sender.first_name)[:128],
        "telegram_message_id": telegram_message_id, "reply_to_message_id": reply_to_message_id,
    }
    if update_id is None:
        return ChatMessage.objects.create(**fields), True
    # The INSERT first (the usual case: a new update), in a savepoint; a retried update
    # hits the unique (update_id, direction) and reads the row stored the first time.
    try:
        with transaction.atomic():
            return ChatMessage.objects.create(update_id=update_id, **fields), True
    except IntegrityError:
        stored = ChatMessage.objects.filter(update_id=update_id, direction=direction).first()
        if stored is None:  # refused for another reason
            raise
        return stored, False


@transaction.atomic(savepoint=False)  # inside the handler's transaction: no savepoint of its own
def reply_send(*, chat_id: int, text: str, update_id: int, kind: str, is_master: bool = True) -> ChatMessage:
    """The one reply to an update: stored, and queued in the outbox (which splits long
    texts and survives Telegram outages). Idempotent per update."""
    if not text.strip():
        text = "(nothing to say)"
    row = chat_message_record(
        chat_id=chat_id, direction=Direction.OUT, text=text, kind=kind, is_master=is_master, update_id=update_id
    )
    notification_enqueue(kind=NotificationKind.MESSAGE, text=row.text, key=f"chat:{update_id}", chat_id=chat_id)
    update_done_in_transaction(update_id=update_id)  # the update handled here: processed with its reply
    return row
