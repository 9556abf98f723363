"""The bot's handlers: small `async def handler(update, context)` functions.

They run on the event loop of the process's `telegrambot.runtime`, so they touch the
database only through `on_caller_thread` (the work runs back on the thread waiting for
the update, inside its connection and transaction). The real work is in
`telegrambot.conversation`, `telegrambot.strangers` and `telegrambot.taps`.

Order (see `handlers_register`): group -1 holds the gate, which lets only Master chats
through; strangers' messages are stored and get one fixed notice a day, their button
taps are refused, and nothing of theirs reaches a command, an approval or the model.
Group 0 holds the commands, the chat, and the button taps.
"""

import logging
from contextvars import ContextVar

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatAction
from telegram.error import RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from . import conversation, strangers, taps
from .commands import COMMANDS, unknown_command_text
from .messages import Sender
from .runtime import on_caller_thread
from .selectors import is_master_chat
from .text import TELEGRAM_TEXT_LIMIT

logger = logging.getLogger(__name__)

# What the handlers raised while handling the current update (set per update by
# `telegrambot.application.update_handle`: updates handled at once keep theirs apart).
handler_errors: ContextVar[list[BaseException] | None] = ContextVar("handler_errors", default=None)
NOT_ALLOWED = "Not allowed"
TAP_FAILED = "Sorry, that didn't work; please try again."
TEXT_ONLY = "I can only read text messages."


# --- handlers ------------------------------------------------------------------------------


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Let the Master's updates through; note strangers' messages (one fixed reply a day)
    and refuse their button taps. Stops everything else a stranger sends."""
    if _from_master(update):
        return
    query = update.callback_query
    message = update.message
    if query is not None:
        logger.info("Refused a button tap from non-Master user %s", query.from_user.id)
        await _safe(query.answer(NOT_ALLOWED), "answerCallbackQuery")
    elif message is not None:
        await on_caller_thread(strangers.stranger_message_note)(
            update_id=update.update_id,
            chat_id=message.chat_id,
            text=_message_text(message),
            sender=_sender(update),
            telegram_message_id=message.message_id,
            reply_to_message_id=_reply_to(message),
        )
    raise ApplicationHandlerStop


async def command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A Master's /command: run it and queue the reply (no model call)."""
    message = update.message
    name, args = command_parts(message)
    await on_caller_thread(conversation.command_handle)(
        update_id=update.update_id,
        chat_id=message.chat_id,
        name=name,
        args=args,
        text=message.text,
        sender=_sender(update),
        telegram_message_id=message.message_id,
    )


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot doesn't have (or one addressed to another bot): say so."""
    message = update.message
    name, _ = command_parts(message)
    await on_caller_thread(conversation.other_message_handle)(
        update_id=update.update_id, chat_id=message.chat_id, text=message.text,
        reply=unknown_command_text(name), sender=_sender(update), telegram_message_id=message.message_id,
    )


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A Master's plain text: the answer to a question when it replies to one, else a
    chat message answered by Claude (with the conversation so far)."""
    message = update.message
    await _safe(context.bot.send_chat_action(chat_id=message.chat_id, action=ChatAction.TYPING), "sendChatAction")
    await on_caller_thread(conversation.master_text_handle)(
        update_id=update.update_id,
        chat_id=message.chat_id,
        text=message.text,
        sender=_sender(update),
        telegram_message_id=message.message_id,
        reply_to_message_id=_reply_to(message),
    )


async def other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A Master's message without text (photo, sticker, ...): only text is understood."""
    message = update.message
    await on_caller_thread(conversation.other_message_handle)(
        update_id=update.update_id, chat_id=message.chat_id, text=_message_text(message),
        reply=TEXT_ONLY, sender=_sender(update), telegram_message_id=message.message_id,
    )


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A Master's tap on an approval's button: decide it, always answer the tap, and show
    the outcome in place of the buttons (also when it was decided or expired before)."""
    query = update.callback_query
    answer, outcome = TAP_FAILED, None
    try:
        outcome = await on_caller_thread(taps.approval_tap)(
            data=query.data or "", by=_sender(update).name, chat_id=query.message.chat_id if query.message else None,
        )
        answer = outcome.answer
    finally:
        await _safe(query.answer(answer[:200]), "answerCallbackQuery")
    if outcome.footer is not None:
        await _show_outcome(query, outcome.footer)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remember what a handler raised (the update is then retried) and stop its other handlers."""
    errors = handler_errors.get()
    if errors is None:  # not handled through update_handle: nobody to hand it to
        logger.error("A handler failed outside update_handle", exc_info=context.error)
    else:
        errors.append(context.error)
    raise ApplicationHandlerStop


def handlers_register(app: Application) -> None:
    new_messages = filters.UpdateType.MESSAGE  # edits are not commands or chat
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for name in COMMANDS:
        app.add_handler(CommandHandler(name, command, filters=new_messages))
    app.add_handler(MessageHandler(new_messages & filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, text))
    app.add_handler(MessageHandler(new_messages & ~filters.TEXT, other_message))
    app.add_handler(CallbackQueryHandler(button))
    app.add_error_handler(on_error)


# --- helpers -------------------------------------------------------------------------------


def command_parts(message: Message) -> tuple[str, str]:
    """('approve', '12 reason') for '/approve@agent_bot 12 reason' (newlines in the rest kept)."""
    entity = message.entities[0]
    name = message.text[1 : entity.length].split("@", 1)[0].lower()
    return name, message.text[entity.length :].strip()


def _from_master(update: Update) -> bool:
    """A Master chat: the chat a message was written in, or the one holding the tapped button."""
    chat = update.effective_chat
    return chat is not None and is_master_chat(chat.id)


def _sender(update: Update) -> Sender:
    user = update.effective_user
    if user is None:
        return Sender()
    return Sender(user_id=user.id, username=user.username or "", first_name=user.first_name or "")


def _reply_to(message: Message) -> int | None:
    return message.reply_to_message.message_id if message.reply_to_message else None


def _message_text(message: Message) -> str:
    if message.text is not None:
        return message.text
    if message.caption:
        return message.caption
    kind = next((k for k in ("photo", "sticker", "voice", "video", "document", "audio", "location", "contact")
                 if getattr(message, k, None)), "non-text message")
    return f"[{kind}]"


async def _show_outcome(query: CallbackQuery, footer: str) -> None:
    """Append the outcome to the tapped message and remove its buttons."""
    message = query.message
    if isinstance(message, Message) and message.text:
        room = TELEGRAM_TEXT_LIMIT - len(footer) - 2
        body = message.text if len(message.text) <= room else message.text[: room - 1] + "…"
        # Without a reply_markup the edited message has no inline keyboard any more.
        await _safe(query.edit_message_text(f"{body}\n\n{footer}"), "editMessageText")
    elif message is not None:
        await _safe(query.edit_message_reply_markup(reply_markup=None), "editMessageReplyMarkup")


async def _safe(call, what: str):
    """Await a direct Bot API call whose failure must not fail the update (answers,
    edits, chat actions): log it, including flood control, and carry on."""
    try:
        return await call
    except RetryAfter as exc:
        logger.warning("Telegram rate-limited %s (%s); skipped", what, exc)
    except TelegramError as exc:
        logger.warning("Telegram %s failed: %s", what, exc)
    return None
