"""The Master's messages: a command is run (`commands`), a plain text answers the question
it replies to, or is the new text of a decision whose "Edit" the Master tapped in this chat
(`taps.edit_by_text`), or is chat answered by Claude (`chat`); anything else gets a short reply.
Each is stored as a ChatMessage and answered once per update (`messages.reply_send`).
"""

from django.db import transaction

from agentsite.core.errors import ApplicationError
from decisions.approvals import approval_answer, approval_edit_waiting
from decisions.models import Approval, Surface

# Modules, not their functions: `chat.chat_reply` and `commands.command_reply` are looked
# up at call time (as the former in-function imports did), so tests can replace them.
from . import chat, commands, taps
from .messages import Sender, chat_message_record, chat_message_store, reply_send
from .models import Direction, MessageKind
from .selectors import chat_reply_exists, question_for_reply


def command_handle(
    *, update_id: int, chat_id: int, name: str, args: str, text: str, sender: Sender,
    telegram_message_id: int | None = None,
) -> None:
    """A Master's command: stored, run, answered; the message, the effect and the reply
    commit together, so a stored message is the sign of an earlier attempt: only then is
    the reply looked for (a new update costs no extra read)."""
    with transaction.atomic():
        _, created = chat_message_store(
            chat_id=chat_id, direction=Direction.IN, text=text, kind=MessageKind.COMMAND, is_master=True,
            update_id=update_id, sender=sender, telegram_message_id=telegram_message_id,
        )
        if not created and chat_reply_exists(update_id=update_id):
            return  # handled by an earlier attempt
        reply = commands.command_reply(name=name, args=args, actor=sender.name)
        reply_send(chat_id=chat_id, text=reply, update_id=update_id, kind=MessageKind.COMMAND)


def master_text_handle(
    *, update_id: int, chat_id: int, text: str, sender: Sender,
    telegram_message_id: int | None = None, reply_to_message_id: int | None = None,
) -> None:
    """A Master's plain text: the answer to a question when it replies to one, the new text
    of a decision waiting for it (an Edit tap in this chat), else chat."""
    if chat_reply_exists(update_id=update_id):
        return  # handled by an earlier attempt
    inbound = {
        "chat_id": chat_id, "direction": Direction.IN, "text": text, "is_master": True, "update_id": update_id,
        "sender": sender, "telegram_message_id": telegram_message_id, "reply_to_message_id": reply_to_message_id,
    }
    question = (
        question_for_reply(chat_id=chat_id, message_id=reply_to_message_id)
        if reply_to_message_id is not None else None
    )
    if question is not None:
        with transaction.atomic():
            chat_message_record(kind=MessageKind.ANSWER, **inbound)
            reply_send(
                chat_id=chat_id, update_id=update_id, kind=MessageKind.ANSWER,
                text=_answer_by_reply(question, text=text, by=sender.name),
            )
        return
    editing = approval_edit_waiting(chat_id=chat_id)
    if editing is not None:
        with transaction.atomic():
            chat_message_record(kind=MessageKind.COMMAND, **inbound)
            reply_send(
                chat_id=chat_id, update_id=update_id, kind=MessageKind.COMMAND,
                text=taps.edit_by_text(approval=editing, text=text, by=sender.name),
            )
        return
    row = chat_message_record(kind=MessageKind.CHAT, **inbound)
    chat.chat_reply(update_id=update_id, chat_id=chat_id, message_id=row.pk)


def _answer_by_reply(question: Approval, *, text: str, by: str) -> str:
    try:
        approval_answer(approval_id=question.pk, answer=text, by=by, via=Surface.TELEGRAM)
    except ApplicationError as exc:
        return f"That was not recorded as an answer: {exc.message}."
    return f"Thank you: recorded as your answer to question #{question.pk}."


def other_message_handle(*, update_id: int, chat_id: int, text: str, reply: str, sender: Sender,
                         telegram_message_id: int | None = None) -> None:
    """A Master's message the bot has nothing to do with (unknown command, a photo): stored
    and answered with `reply`."""
    if chat_reply_exists(update_id=update_id):
        return
    with transaction.atomic():
        chat_message_record(
            chat_id=chat_id, direction=Direction.IN, text=text, kind=MessageKind.OTHER, is_master=True,
            update_id=update_id, sender=sender, telegram_message_id=telegram_message_id,
        )
        reply_send(chat_id=chat_id, text=reply, update_id=update_id, kind=MessageKind.OTHER)
