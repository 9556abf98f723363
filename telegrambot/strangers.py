"""Strangers: a message from a chat that is not the Master's is stored for the admin and
answered with one fixed notice at most once per chat and UTC day; nothing else (no model
call, no command, no approval). Their button taps are refused by `handlers.gate`.
"""

import logging

from django.db import transaction

from agentsite.core.clock import utc_today
from decisions.models import NotificationKind
from decisions.outbox import notification_enqueue

from .messages import Sender, chat_message_record
from .models import ChatMessage, Direction, MessageKind

logger = logging.getLogger(__name__)

STRANGER_NOTICE = "This is a private agent; your message was noted for its owner."


@transaction.atomic
def stranger_message_note(
    *, update_id: int, chat_id: int, text: str, sender: Sender,
    telegram_message_id: int | None = None, reply_to_message_id: int | None = None,
) -> bool:
    """A message from someone who is not the Master: stored for the admin, answered with
    one fixed notice at most once per chat and UTC day, and nothing else (no model call,
    no command). Returns whether the notice was queued."""
    chat_message_record(
        chat_id=chat_id, direction=Direction.IN, text=text,
        kind=MessageKind.COMMAND if text.startswith("/") else MessageKind.CHAT, is_master=False,
        update_id=update_id, sender=sender, telegram_message_id=telegram_message_id,
        reply_to_message_id=reply_to_message_id,
    )
    # The outbox row (unique on its key) is what makes the notice once a day: enqueueing
    # first means a concurrent message of the same chat waits on that key until this
    # transaction commits, and then sees the NOTICE row written with it below.
    key = f"stranger:{chat_id}:{utc_today().isoformat()}"
    [notification] = notification_enqueue(
        kind=NotificationKind.MESSAGE, text=STRANGER_NOTICE, key=key, chat_id=chat_id,
    )
    already_noted = ChatMessage.objects.filter(
        chat_id=chat_id, direction=Direction.OUT, kind=MessageKind.NOTICE,
        created_at__gte=notification.created_at,
    ).exists()
    if already_noted:
        return False
    chat_message_record(
        chat_id=chat_id, direction=Direction.OUT, text=STRANGER_NOTICE, kind=MessageKind.NOTICE,
        is_master=False, update_id=update_id,
    )
    logger.info("Message from stranger chat %s noted (notice queued)", chat_id)
    return True
